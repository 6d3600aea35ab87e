#!/usr/bin/env node
// Node side of the peer comparison (infra/measure/peers.sh): the official `stripe` package's
// webhooks.constructEvent and the `standardwebhooks` package's Webhook.verify on the bytes and
// headers in input.json (written by peers.py sign), plus Node's own crypto HMAC-SHA256 over the
// Stripe-signed message, for reference. Each case is checked once (it must accept the
// signature), warmed up, then timed in-process: `rounds` rounds of `iterations` calls; one JSON
// line per case with the median ns/op.
//
//     NODE_PATH=infra/.local/peers/node/node_modules node infra/measure/peers/peers.js input.json
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const Stripe = require('stripe');
const { Webhook } = require('standardwebhooks');

const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const body = fs.readFileSync(input.body_file); // a Buffer, as express.raw() hands it over
const stripe = new Stripe('sk_test_peers_not_used_for_any_call');
// Installed versions (their package.json files are not all exported: walk up from the entry).
function version(name) {
  let dir = require('path').dirname(require.resolve(name));
  for (;;) {
    const file = require('path').join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (pkg.name === name) return pkg.version;
    }
    const up = require('path').dirname(dir);
    if (up === dir) return '?';
    dir = up;
  }
}
const versions = { stripe: version('stripe'), standardwebhooks: version('standardwebhooks'), node: process.versions.node };

function time(name, impl, fn) {
  for (let i = 0; i < input.warmup; i++) fn();
  const perOp = [];
  for (let r = 0; r < input.rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < input.iterations; i++) fn();
    perOp.push(Number(process.hrtime.bigint() - start) / input.iterations);
  }
  perOp.sort((a, b) => a - b);
  console.log(JSON.stringify({
    side: 'node', impl, case: name, ns_per_op: perOp[Math.floor(perOp.length / 2)],
    rounds_ns: perOp, iterations: input.iterations, versions,
  }));
}

function check(cond, what) {
  if (!cond) {
    console.error(`peers.js: ${what}`);
    process.exit(1);
  }
}

// Stripe: verify + JSON.parse + the event object.
const construct = () => stripe.webhooks.constructEvent(body, input.stripe.header, input.stripe.secret);
const ev = construct();
check(ev.id === input.event_id && ev.type === input.event_type, 'constructEvent did not return the event');

// Standard Webhooks: verify + JSON.parse.
const wh = new Webhook(input.standard.secret);
const headers = {
  'webhook-id': input.standard.id,
  'webhook-timestamp': input.standard.timestamp,
  'webhook-signature': input.standard.signature,
};
const sw = wh.verify(body, headers);
check(sw.id === input.event_id && sw.type === input.event_type, 'standardwebhooks verify did not return the event');

// Node's crypto HMAC over the exact message Stripe signs ("{t}.{body}"), hex as in the header.
const stripeMessage = Buffer.concat([Buffer.from(`${input.stripe.timestamp}.`), body]);
const hmac = () => crypto.createHmac('sha256', input.stripe.secret).update(stripeMessage).digest('hex');
check(input.stripe.header.includes(`v1=${hmac()}`), 'Node HMAC differs from the signature');

time('stripe_verify_parse', `Node stripe ${versions.stripe} webhooks.constructEvent`, construct);
time('standard_verify_parse', `Node standardwebhooks ${versions.standardwebhooks} Webhook.verify`, () => wh.verify(body, headers));
time('hmac_floor', `Node ${versions.node} crypto.createHmac (OpenSSL)`, hmac);
