// nats.js against midge: JetStream publish, pull consume, KV put/get.
// Usage: node smoke.mjs nats://127.0.0.1:PORT   (exit status 0 on success)
import { connect, AckPolicy, StringCodec } from "nats";

const sc = StringCodec();
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };

const nc = await connect({ servers: process.argv[2] });
const jsm = await nc.jetstreamManager();
await jsm.streams.add({ name: "JS_SMOKE", subjects: ["smoke.>"] });
const js = nc.jetstream();

for (let i = 0; i < 10; i++) {
  const ack = await js.publish("smoke.msg", sc.encode(`m${i}`));
  if (ack.seq !== i + 1 || ack.stream !== "JS_SMOKE") fail(`bad ack ${JSON.stringify(ack)}`);
}

await jsm.consumers.add("JS_SMOKE", { durable_name: "C", ack_policy: AckPolicy.Explicit });
const consumer = await js.consumers.get("JS_SMOKE", "C");
const got = [];
const iter = await consumer.fetch({ max_messages: 10, expires: 5000 });
for await (const m of iter) {
  got.push(sc.decode(m.data));
  m.ack();
}
if (got.length !== 10 || got[0] !== "m0" || got[9] !== "m9") fail(`consumed ${JSON.stringify(got)}`);

const kv = await js.views.kv("SMOKE");
await kv.put("greeting", sc.encode("hello"));
await kv.put("greeting", sc.encode("hello again"));
const e = await kv.get("greeting");
if (!e || sc.decode(e.value) !== "hello again" || e.revision !== 2) fail(`kv get ${e && sc.decode(e.value)}`);

await nc.drain();
console.log("nats.js OK: 10 published, 10 consumed, kv revision 2");
