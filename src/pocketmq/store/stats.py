"""Store statistics (upstream StoreStatsService): counters of puts and gets, 1-second samples
for TPS over 10 s / 60 s / 600 s windows, put latency distribution, and daily totals for
``msgPutTotalTodayNow`` and friends. All values are rendered as strings for runtime info.

Time: TPS windows are measured on the monotonic clock (a wall-clock step neither inflates nor
zeroes them); "today" rolls over when the wall clock passes the next local midnight, and only
forwards, so a clock stepped back across midnight does not roll the day twice.
"""

from __future__ import annotations

import collections
import datetime

from pocketmq.clock import SYSTEM_CLOCK, Clock, local_datetime, local_epoch_ms

_BUCKETS = (0, 10, 50, 100, 200, 500, 1000, 2000, 5000)
_BUCKET_NAMES = ("<=0ms", "0~10ms", "10~50ms", "50~100ms", "100~200ms", "200~500ms",
                 "500ms~1s", "1~2s", "2~3s", "3~4s", "4~5s", "5~10s", "10s~")


class StoreStatsService:
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.boot_timestamp = clock.now_ms()
        self._boot_monotonic = clock.monotonic()
        self.put_message_times_total = 0
        self.put_message_size_total = 0
        self.put_message_failed_times = 0
        self.put_message_entire_time_max = 0
        self.get_message_entire_time_max = 0
        self.get_message_times_total_found = 0
        self.get_message_times_total_miss = 0
        self.get_message_transfered_msg_count = 0
        self.dispatch_max_buffer = 0
        self.put_distribute = [0] * len(_BUCKET_NAMES)
        self._samples: collections.deque[tuple[float, int, int, int, int]] = collections.deque(maxlen=601)
        self._next_morning_ms = next_local_midnight_ms(self.boot_timestamp)
        self.put_total_today_morning = 0
        self.put_total_yesterday_morning = 0
        self.get_total_today_morning = 0
        self.get_total_yesterday_morning = 0

    def record_put(self, size: int, elapsed_ms: float, count: int = 1) -> None:
        self.put_message_times_total += count
        self.put_message_size_total += size
        if elapsed_ms > self.put_message_entire_time_max:
            self.put_message_entire_time_max = int(elapsed_ms)
        self.put_distribute[self._bucket(elapsed_ms)] += 1

    @staticmethod
    def _bucket(ms: float) -> int:
        if ms <= 0:
            return 0
        if ms < 10:  # nearly every put
            return 1
        for i, limit in enumerate((10, 50, 100, 200, 500, 1000, 2000, 3000, 4000, 5000, 10000)):
            if ms < limit:
                return i + 1
        return len(_BUCKET_NAMES) - 1

    def record_get(self, found: int, elapsed_ms: float) -> None:
        if found:
            self.get_message_times_total_found += 1
            self.get_message_transfered_msg_count += found
        else:
            self.get_message_times_total_miss += 1
        if elapsed_ms > self.get_message_entire_time_max:
            self.get_message_entire_time_max = int(elapsed_ms)

    def sample(self) -> None:
        """Take a 1-second sample (called by the store every second)."""
        self._samples.append((self.clock.monotonic(), self.put_message_times_total,
                              self.get_message_times_total_found, self.get_message_times_total_miss,
                              self.get_message_transfered_msg_count))
        now_ms = self.clock.now_ms()
        if now_ms >= self._next_morning_ms:
            self._next_morning_ms = next_local_midnight_ms(now_ms)
            self.put_total_yesterday_morning = self.put_total_today_morning
            self.get_total_yesterday_morning = self.get_total_today_morning
            self.put_total_today_morning = self.put_message_times_total
            self.get_total_today_morning = self.get_message_transfered_msg_count

    def _tps(self, field: int, seconds: int) -> float:
        if len(self._samples) < 2:
            return 0.0
        last = self._samples[-1]
        first = self._samples[max(0, len(self._samples) - 1 - seconds)]
        elapsed = last[0] - first[0]
        return (last[field] - first[field]) / elapsed if elapsed > 0 else 0.0

    def _tps_triple(self, field: int) -> str:
        return " ".join(str(round(self._tps(field, s), 2)) for s in (10, 60, 600))

    def _total_tps(self) -> str:
        values = []
        for s in (10, 60, 600):
            values.append(str(round(self._tps(2, s) + self._tps(3, s), 2)))
        return " ".join(values)

    def runtime_info(self) -> dict[str, str]:
        seconds = int(self.clock.monotonic() - self._boot_monotonic)
        average = self.put_message_size_total / self.put_message_times_total if self.put_message_times_total else 0.0
        distribute = " ".join(f"[{name}]:{n}" for name, n in zip(_BUCKET_NAMES, self.put_distribute))
        return {
            "bootTimestamp": str(self.boot_timestamp),
            "runtime": f"[ {seconds // 86400} days, {seconds % 86400 // 3600} hours, "
                       f"{seconds % 3600 // 60} minutes, {seconds % 60} seconds ]",
            "putMessageEntireTimeMax": str(self.put_message_entire_time_max),
            "putMessageTimesTotal": str(self.put_message_times_total),
            "putMessageFailedTimes": str(self.put_message_failed_times),
            "putMessageSizeTotal": str(self.put_message_size_total),
            "putMessageDistributeTime": distribute,
            "putMessageAverageSize": str(average),
            "dispatchMaxBuffer": str(self.dispatch_max_buffer),
            "getMessageEntireTimeMax": str(self.get_message_entire_time_max),
            "putTps": self._tps_triple(1),
            "getFoundTps": self._tps_triple(2),
            "getMissTps": self._tps_triple(3),
            "getTotalTps": self._total_tps(),
            "getTransferedTps": self._tps_triple(4),
            "msgPutTotalYesterdayMorning": str(self.put_total_yesterday_morning),
            "msgPutTotalTodayMorning": str(self.put_total_today_morning),
            "msgPutTotalTodayNow": str(self.put_message_times_total),
            "msgGetTotalYesterdayMorning": str(self.get_total_yesterday_morning),
            "msgGetTotalTodayMorning": str(self.get_total_today_morning),
            "msgGetTotalTodayNow": str(self.get_message_transfered_msg_count),
        }


def next_local_midnight_ms(epoch_ms: int) -> int:
    """The first local midnight after ``epoch_ms`` (a 23- or 25-hour day on a DST change)."""
    tomorrow = local_datetime(epoch_ms).date() + datetime.timedelta(days=1)
    return local_epoch_ms(datetime.datetime.combine(tomorrow, datetime.time()))
