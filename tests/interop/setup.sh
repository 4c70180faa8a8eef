#!/usr/bin/env bash
# Placeholder until the interop tooling lands.
exit 0
