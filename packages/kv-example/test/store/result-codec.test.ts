import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand, type KvCommand } from '../../src/store/commands.js';
import { KvState } from '../../src/store/kv-state.js';
import { kvResultCodec } from '../../src/store/result-codec.js';

// The session table answers a retried write with the decoded result it recorded: it must equal the first answer,
// also as the JSON the API sends.
describe('kvResultCodec', () => {
  it('decodes every result to what apply returned (property; FC_SEED reruns a case)', () => {
    const key = fc.constantFrom('a', 'b');
    const cmd: fc.Arbitrary<KvCommand> = fc.oneof(
      fc.record({ op: fc.constant('put' as const), key, value: fc.constantFrom('1', 'x', '') }),
      fc.record({ op: fc.constant('del' as const), key }),
      fc.record({ op: fc.constant('incr' as const), key, delta: fc.integer({ min: -3, max: 3 }) }),
      fc.record({
        op: fc.constant('cas' as const),
        key,
        value: fc.string(),
        prevValue: fc.option(fc.constantFrom('1', 'x'), { nil: undefined }),
      }),
    );
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 40 }), (cmds) => {
        const s = new KvState();
        cmds.forEach((c, i) => {
          const r = s.apply(encodeCommand(c), i + 1);
          const back = kvResultCodec.decode(kvResultCodec.encode(r));
          expect(back).toEqual(r);
          expect(JSON.stringify(back)).toBe(JSON.stringify(r));
        });
      }),
      { seed: Number(process.env.FC_SEED ?? 20261206), numRuns: Number(process.env.FC_RUNS ?? 200) },
    );
  });

  it('refuses bytes that are not a recorded result', () => {
    expect(() => kvResultCodec.decode(Uint8Array.of(0x93, 9, 1, 1))).toThrow(/unknown op/);
    expect(() => kvResultCodec.decode(Uint8Array.of(0x92, 1, 0xc0))).toThrow(/revision/);
  });
});
