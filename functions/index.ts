/**
 * The Functions app entry point (package.json "main": dist/functions/index.js): importing a
 * module registers its function. One file per function, named after it.
 */
import './collections.js';
import './collectionStatus.js';
import './sentinelIncident.js';
import './collectEvidence.js';
import './resolveCluster.js';
import './collectSource.js';
import './sealEvidence.js';
import './ingestEvidence.js';
