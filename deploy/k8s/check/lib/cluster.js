'use strict';
// The cluster file's rules, as kg_server applies them (server/frontend/cluster.cc,
// docs/CLUSTER.md): '#' starts a comment; words are separated by spaces; "partitions N"
// (1..4096) comes first, once; "server HOST:PORT LIST" lines, where LIST mixes numbers and
// inclusive ranges ("0,2,4-6"); every partition 0..N-1 is hosted by exactly one line.

class ClusterFileError extends Error {}

function parsePartitionList(list, count) {
  const out = [];
  for (const raw of list.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const dash = part.indexOf('-');
    const lo = dash >= 0 ? part.slice(0, dash) : part;
    const hi = dash >= 0 ? part.slice(dash + 1) : part;
    if (!/^\d+$/.test(lo.trim()) || !/^\d+$/.test(hi.trim()) || Number(hi) < Number(lo)) {
      throw new ClusterFileError(`bad partition "${part}"`);
    }
    if (Number(hi) >= count) throw new ClusterFileError(`partition ${Number(hi)} out of range 0..${count - 1}`);
    for (let p = Number(lo); p <= Number(hi); p++) out.push(p);
  }
  if (out.length === 0) throw new ClusterFileError('empty partition list');
  return out;
}

// Returns { count, servers: [{ host, port, list, partitions, line }] } or throws a
// ClusterFileError naming the source and line.
function parseClusterFile(text, source) {
  let count = 0;
  let owner = [];
  const servers = [];
  text.split('\n').forEach((rawLine, index) => {
    const lineNo = index + 1;
    const hash = rawLine.indexOf('#');
    const line = hash >= 0 ? rawLine.slice(0, hash) : rawLine;
    const words = line.split(' ').filter((w) => w.trim() !== '');
    if (words.length === 0) return;
    const error = (what) => new ClusterFileError(`${source}:${lineNo}: ${what}`);
    if (words.some((w) => /\s/.test(w))) throw error('words must be separated by spaces (a tab or carriage return is part of a word)');
    if (words[0] === 'partitions') {
      if (count !== 0) throw error('"partitions" given twice');
      if (words.length !== 2 || !/^\d+$/.test(words[1]) || Number(words[1]) < 1 || Number(words[1]) > 4096) {
        throw error('expected "partitions N" with 1 <= N <= 4096');
      }
      count = Number(words[1]);
      owner = new Array(count).fill(0);
    } else if (words[0] === 'server') {
      if (count === 0) throw error('"partitions N" must come first');
      if (words.length !== 3) throw error('expected "server HOST:PORT PARTITIONS"');
      const m = /^([A-Za-z0-9.-]+):(\d+)$/.exec(words[1]);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw error(`"${words[1]}" is not HOST:PORT`);
      let partitions;
      try {
        partitions = parsePartitionList(words[2], count);
      } catch (e) {
        throw error(e.message);
      }
      for (const p of partitions) {
        if (owner[p] !== 0) throw error(`partition ${p} already hosted (line ${owner[p]})`);
        owner[p] = lineNo;
      }
      servers.push({ host: m[1], port: Number(m[2]), list: words[2], partitions, line: lineNo });
    } else {
      throw error(`unknown directive "${words[0]}"`);
    }
  });
  if (count === 0) throw new ClusterFileError(`${source}: no "partitions N" line`);
  const missing = owner.map((o, p) => (o === 0 ? p : -1)).filter((p) => p >= 0);
  if (missing.length > 0) {
    throw new ClusterFileError(`${source}: partition${missing.length > 1 ? 's' : ''} ${missing.join(', ')} hosted by no server`);
  }
  return { count, servers };
}

module.exports = { parseClusterFile, parsePartitionList, ClusterFileError };
