"""Run inside a network namespace by test_netns.py: talk to brokers there, print JSON.

    python netns_probe.py create ADDR TOPIC
    python netns_probe.py send ADDR TOPIC COUNT           -> [codes]
    python netns_probe.py send-until ADDR TOPIC CODE SECS -> [codes] ending with CODE (or not)
    python netns_probe.py maxoffset ADDR                  -> int
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.cluster import create_topic, max_offset_of, send_raw  # noqa: E402


def main(argv: list[str]) -> None:
    action, addr = argv[0], argv[1]
    if action == "create":
        create_topic(addr, argv[2])
        print(json.dumps("ok"))
    elif action == "send":
        print(json.dumps([send_raw(addr, argv[2], f"m{i}".encode(), queue_id=i % 4).code
                          for i in range(int(argv[3]))]))
    elif action == "send-until":
        want, deadline, codes = int(argv[3]), time.monotonic() + float(argv[4]), []
        while time.monotonic() < deadline:
            codes.append(send_raw(addr, argv[2], f"u{len(codes)}".encode(), queue_id=len(codes) % 4).code)
            if codes[-1] == want:
                break
            time.sleep(0.2)
        print(json.dumps(codes))
    elif action == "maxoffset":
        print(json.dumps(max_offset_of(addr)))


if __name__ == "__main__":
    main(sys.argv[1:])
