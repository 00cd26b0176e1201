import { describe, expect, it } from 'vitest';
import { hms } from '../../src/server/report/report.js';

describe('hms: instrument time for people', () => {
  it('never prints 60 s: rounds to whole seconds before splitting into minutes and hours', () => {
    expect(hms(539.6)).toBe('9 min 0 s');
    expect(hms(59.97)).toBe('1 min 0 s');
    expect(hms(3599.7)).toBe('1 h 0 min 0 s');
    expect(hms(582.4)).toBe('9 min 42 s');
    expect(hms(12.34)).toBe('12.3 s');
  });
});
