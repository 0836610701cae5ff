// Reads one JSON string per line on stdin (the text of a .env file) and
// answers one JSON line per input: what each release of node's dotenv parses
// from that text, as {"dotenv@16": {...}, ...}. One process serves a whole
// test session, so a property test can ask thousands of times.
'use strict'
const readline = require('readline')

const parsers = {
  'dotenv@16': (text) => require('dotenv16').parse(text),
  'dotenv@17': (text) => require('dotenv17').parse(text),
  'dotenv@18': (text) => require('dotenv18').parse(text),
  'dotenv@18 fast': (text) => require('dotenv18').parse(text, { fast: true })
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
lines.on('line', (line) => {
  const text = JSON.parse(line)
  const out = {}
  for (const [name, parse] of Object.entries(parsers)) {
    out[name] = parse(Buffer.from(text, 'utf8'))
  }
  process.stdout.write(JSON.stringify(out) + '\n')
})
