// nats.ws, the NATS client browsers use, against midge's websocket listener,
// under node 20 (run with --experimental-websocket for a global WebSocket).
// Usage: node --experimental-websocket ws.mjs ws://127.0.0.1:PORT
// A Go client on TCP serves "svc.upper" and listens on "ws.done"; this
// script requests, subscribes, publishes and runs a JetStream publish, all
// over the WebSocket. Exit status 0 on success.
import { connect, StringCodec } from "nats.ws";

const sc = StringCodec();
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };

if (typeof WebSocket === "undefined") fail("no global WebSocket: run node with --experimental-websocket");
const nc = await connect({ servers: process.argv[2] });

// Request/reply across transports: the responder is a TCP client.
const reply = await nc.request("svc.upper", sc.encode("hello from nats.ws"), { timeout: 5000 });
if (sc.decode(reply.data) !== "HELLO FROM NATS.WS") fail(`reply ${sc.decode(reply.data)}`);

// Messages to itself over the WebSocket, many and large enough to span frames.
const sub = nc.subscribe("ws.loop", { max: 100 });
const big = "x".repeat(100000);
for (let i = 0; i < 100; i++) nc.publish("ws.loop", sc.encode(i === 99 ? big : `m${i}`));
let n = 0;
for await (const m of sub) {
  if (n === 99 && sc.decode(m.data) !== big) fail("large message changed");
  n++;
}
if (n !== 100) fail(`looped ${n} of 100`);

// JetStream over the WebSocket.
const jsm = await nc.jetstreamManager();
await jsm.streams.add({ name: "WS_SMOKE", subjects: ["wssmoke.>"] });
const ack = await nc.jetstream().publish("wssmoke.a", sc.encode("stored"));
if (ack.seq !== 1) fail(`ack ${JSON.stringify(ack)}`);

nc.publish("ws.done", sc.encode("ok"));
await nc.drain();
console.log("nats.ws over midge: request, 100 messages, JetStream publish: ok");
