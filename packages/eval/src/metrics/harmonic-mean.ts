/**
 * The overall erasure score H_o of MACE and RealEra (RealEra §5.1, Table 1; docs/methods.md §6).
 *
 * Notation (all in percent):
 *   Acc_e  accE  mean probability (or top-1 rate) of the erased class on images of "a photo of the {erased}" (↓)
 *   Acc_s  accS  the same for every other class on its own prompts (↑)
 *   Acc_g  accG  the erased class on images of its synonyms' prompts (↓)
 *   H_o    = 3 / (1/(100 − Acc_e) + 1/Acc_s + 1/(100 − Acc_g))
 * The harmonic mean of efficacy (100 − Acc_e), specificity (Acc_s) and generality (100 − Acc_g). When any of
 * the three is 0 the harmonic mean is 0 (its limit), not NaN.
 */
import { InvalidOptionError } from '@erase/core';

/**
 * H_o in percent from Acc_e, Acc_s and Acc_g in percent.
 *
 * @example harmonicMeanHo(3.38, 96.18, 8.87) // ≈ 94.58 (RealEra Table 1, airplane)
 * @throws InvalidOptionError when an argument is not a finite number in [0, 100].
 */
export function harmonicMeanHo(accE: number, accS: number, accG: number): number {
  for (const [option, value] of [
    ['accE', accE],
    ['accS', accS],
    ['accG', accG],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) {
      throw new InvalidOptionError({ option, expected: 'a finite percentage in [0, 100]', received: value });
    }
  }
  const efficacy = 100 - accE;
  const specificity = accS;
  const generality = 100 - accG;
  if (efficacy === 0 || specificity === 0 || generality === 0) return 0;
  return 3 / (1 / efficacy + 1 / specificity + 1 / generality);
}
