// A real SMTP server for the email tests (npm smtp-server): every message it accepts is printed
// to stdout as one JSON line {"from","to","raw"}; the test reads them as they come.
//   node smtp-capture.js [--fail-first N] [--fail-all]
// --fail-first N answers the first N messages with "451 try again later"; --fail-all answers every one so.
// The first line printed is {"listening": PORT} (the port is chosen by the system).
"use strict";
const { SMTPServer } = require("smtp-server");

const args = process.argv.slice(2);
const failAll = args.includes("--fail-all");
const i = args.indexOf("--fail-first");
let failFirst = i >= 0 ? Number(args[i + 1]) : 0;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS", "AUTH"],
  logger: false,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on("data", (c) => chunks.push(c));
    stream.on("end", () => {
      if (failAll || failFirst > 0) {
        failFirst--;
        const err = new Error("Mailbox busy, try again later");
        err.responseCode = 451;
        process.stdout.write(JSON.stringify({ refused: session.envelope.rcptTo.map((r) => r.address) }) + "\n");
        return callback(err);
      }
      process.stdout.write(JSON.stringify({
        from: session.envelope.mailFrom && session.envelope.mailFrom.address,
        to: session.envelope.rcptTo.map((r) => r.address),
        raw: Buffer.concat(chunks).toString("utf8"),
      }) + "\n");
      callback();
    });
  },
});
server.on("error", (e) => process.stderr.write(String(e) + "\n"));
server.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ listening: server.server.address().port }) + "\n"));
process.stdin.on("end", () => server.close(() => process.exit(0)));
process.stdin.resume();
