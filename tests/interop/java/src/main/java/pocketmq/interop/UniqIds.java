/*
 * The official client's unique message ids (MessageClientIDSetter), for byte-for-byte checks of
 * PocketMQ's generator. Run it under libfaketime to choose the instants:
 *
 *   create UNTIL_MS      one id per millisecond until the clock reads UNTIL_MS; prints
 *                        {"event":"id","before":ms,"id":..,"after":ms} per id (before == after
 *                        pins the instant)
 *   decode ID...         {"event":"decoded","id":..,"now":ms,"time":getNearlyTimeFromID(id)}
 */
package pocketmq.interop;

import org.apache.rocketmq.common.message.MessageClientIDSetter;

public final class UniqIds {
    private UniqIds() {
    }

    public static void main(String[] args) {
        if (args.length >= 2 && args[0].equals("create")) {
            long until = Long.parseLong(args[1]);
            long last = -1;
            while (true) {
                long before = System.currentTimeMillis();
                if (before >= until) {
                    break;
                }
                if (before == last) {
                    Thread.onSpinWait();
                    continue;
                }
                String id = MessageClientIDSetter.createUniqID();
                long after = System.currentTimeMillis();
                last = before;
                Driver.emit(Driver.ev("id", "before", before, "id", id, "after", after));
            }
        } else if (args.length >= 1 && args[0].equals("decode")) {
            for (int i = 1; i < args.length; i++) {
                long now = System.currentTimeMillis();
                long time = MessageClientIDSetter.getNearlyTimeFromID(args[i]).getTime();
                Driver.emit(Driver.ev("decoded", "id", args[i], "now", now, "time", time));
            }
        } else {
            System.err.println("usage: UniqIds create UNTIL_MS | decode ID...");
            System.exit(2);
        }
        System.out.flush();
    }
}
