/**
 * Prettier: the code's own style (single quotes, 2 spaces, semicolons, trailing commas, long lines).
 * printWidth 180: of 100/120/140/160/180/200 it is where the reformat diff stops shrinking much (changed lines 37k/25k/16k/10.5k/7.5k/5.9k).
 * @type {import('prettier').Config}
 */
export default {
  singleQuote: true,
  printWidth: 180,
};
