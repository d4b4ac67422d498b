'use strict';
// Builds proto-loader's objects from the tapes the native transport's Codec makes of
// replies on gRPC's threads (native/wire_tape.h describes the tape). Each message type
// gets, on first use, a function that makes its objects with one object literal of its
// fields in protobuf.js's order (a fixed shape V8 creates directly); oneof members, when
// set, are added after it with the oneof's virtual field. Each string of a tape is a string
// of its own (short ASCII ones copied out of one pool string, the others made by the addon),
// made once per tape; enum names are shared by every tape.
//
// reader(codec) -> read([buffer, pool, strings]) -> the object. Not reentrant across tapes (one
// tape is read to its end before the next); one reader serves one thread.

const OP = { NULL: 0, TRUE: 1, FALSE: 2, EMPTY: 3, INT: 4, NUMBER: 5, STRING: 6, NAME: 7, OBJECT: 8, ARRAY: 9, MAP: 10 };

function reader(codec) {
  const { plans, names } = codec.layout();
  const makers = new Array(plans.length).fill(null);
  const oneofs = plans.map(([, o]) => (o.length === 0 ? null : o));
  let ints = null;
  let nums = null;
  let strings = null;
  let i = 0;
  let j = 0;

  function maker(p) {
    const fields = plans[p][0].map((key) => `${JSON.stringify(key)}: r()`).join(', ');
    // eslint-disable-next-line no-new-func
    makers[p] = new Function('r', `return { ${fields} };`);
    return makers[p];
  }

  function value() {
    switch (ints[i++]) {
      case OP.NULL: return null;
      case OP.TRUE: return true;
      case OP.FALSE: return false;
      case OP.EMPTY: return '';
      case OP.INT: return ints[i++];
      case OP.NUMBER: return nums[j++];
      case OP.STRING: return strings[ints[i++]];
      case OP.NAME: return names[ints[i++]];
      case OP.OBJECT: {
        const p = ints[i++];
        const object = (makers[p] ?? maker(p))(value);
        const groups = oneofs[p];
        if (groups !== null) {
          for (const [key, members] of groups) {
            const m = ints[i++];
            if (m >= 0) {
              object[members[m]] = value();
              object[key] = members[m];
            }
          }
        }
        return object;
      }
      case OP.ARRAY: {
        const n = ints[i++];
        const array = new Array(n);
        for (let k = 0; k < n; k++) array[k] = value();
        return array;
      }
      case OP.MAP: {
        const n = ints[i++];
        const map = {};
        for (let k = 0; k < n; k++) {
          const key = value();
          map[key] = value();
        }
        return map;
      }
      default:
        throw new Error(`tape: unknown op ${ints[i - 1]} at ${i - 1}`);
    }
  }

  return function read([buffer, pool, separate]) {
    // One view over the whole buffer; only its int32 part is read through it.
    ints = new Int32Array(buffer, 0, buffer.byteLength >> 2);
    const stringCount = ints[2];
    const intCount = 3 + 2 * stringCount + ints[0];
    nums = ints[1] === 0 ? null : new Float64Array(buffer, Math.ceil((intCount * 4) / 8) * 8, ints[1]);
    // Short ASCII strings are sliced out of the pool (copies: V8 makes views only of 13
    // characters or more); the others come made.
    strings = new Array(stringCount);
    for (let k = 0, at = 3; k < stringCount; k++, at += 2) {
      const start = ints[at];
      strings[k] = start >= 0 ? pool.slice(start, ints[at + 1]) : separate[-1 - start];
    }
    i = 3 + 2 * stringCount;
    j = 0;
    try {
      return value();
    } finally {
      ints = null;
      nums = null;
      strings = null;
    }
  };
}

module.exports = { reader };
