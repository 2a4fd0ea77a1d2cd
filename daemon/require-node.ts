/** Side effect only: exit 2 with one clear line when this Node.js is older than package.json requires. */
import { nodeVersionProblem, requiredNodeVersion } from './node-version.js';

const problem = nodeVersionProblem(process.versions.node, requiredNodeVersion());
if (problem !== null) {
  process.stderr.write(`segd: ${problem}\n`);
  process.exit(2);
}
