// Checks webhook requests with the npm `pusher` library, for receivers written
// in other languages (the Python suite's): one JSON object a line on stdin,
//   {"key":…,"secret":…,"headers":{…},"body":"<raw body>"}
// and one answer a line on stdout, in the same order,
//   {"valid":true|false,"events":[…]|null}
// Header names may come in any case; the library expects lower case, as node's
// HTTP server gives them.

import readline from 'node:readline';
import Pusher from 'pusher';

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  let answer;
  try {
    const { key, secret, headers, body } = JSON.parse(line);
    const lowered = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
    );
    const webhook = new Pusher({ appId: '1', key, secret }).webhook({ headers: lowered, rawBody: body });
    const valid = webhook.isValid();
    answer = { valid, events: valid ? webhook.getEvents() : null };
  } catch (error) {
    answer = { valid: false, events: null, error: String(error) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
});
