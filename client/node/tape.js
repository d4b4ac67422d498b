'use strict';
// Builds proto-loader's objects from the tapes the native transport's Codec makes of
// replies on gRPC's threads (native/wire_tape.h describes the tape). Each message type
// gets, on first use, a function that makes its objects with one object literal of its
// fields in protobuf.js's order (a fixed shape V8 creates directly); oneof members, when
// set, are added after it with the oneof's virtual field. Strings are slices of the tape's
// one pool string: short ones made once per tape, enum names shared by every tape.
//
// reader(codec) -> read([buffer, pool]) -> the object. Not reentrant across tapes (one
// tape is read to its end before the next); one reader serves one thread.

const OP = {
  NULL: 0, TRUE: 1, FALSE: 2, EMPTY: 3, INT: 4, NUMBER: 5, STRING: 6, REF: 7, NAME: 8,
  OBJECT: 9, ARRAY: 10, MAP: 11,
};

function reader(codec) {
  const { plans, names } = codec.layout();
  const makers = new Array(plans.length).fill(null);
  const oneofs = plans.map(([, o]) => (o.length === 0 ? null : o));
  let ints = null;
  let nums = null;
  let pool = '';
  let refs = [];
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
      case OP.STRING: {
        const at = ints[i];
        const end = at + ints[i + 1];
        i += 2;
        return pool.slice(at, end);
      }
      case OP.REF: return refs[ints[i++]];
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

  return function read([buffer, text]) {
    const header = new Int32Array(buffer, 0, 3);
    const [refCount, opCount, numCount] = header;
    const intCount = 3 + 2 * refCount + opCount;
    ints = new Int32Array(buffer, 0, intCount);
    nums = new Float64Array(buffer, Math.ceil((intCount * 4) / 8) * 8, numCount);
    pool = text;
    refs = new Array(refCount);
    for (let r = 0, at = 3; r < refCount; r++, at += 2) refs[r] = text.slice(ints[at], ints[at] + ints[at + 1]);
    i = 3 + 2 * refCount;
    j = 0;
    try {
      return value();
    } finally {
      ints = null;
      nums = null;
      pool = '';
      refs = [];
    }
  };
}

module.exports = { reader };
