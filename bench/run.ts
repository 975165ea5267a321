// npm run bench: every micro-benchmark, each printing figures and ratios measured in the same run.
import { runCoapCodecBench } from './coap-codec.bench';
import { runGroupObserveBench } from './group-observe.bench';

runCoapCodecBench();
void runGroupObserveBench()
  .then(() => import('./dtls.bench'))
  .then((m) => m.runDtlsBench())
  .then(() => import('./cluster.bench'))
  .then((m) => m.runClusterBench())
  .then(() => import('./oscore.bench'))
  .then((m) => m.runOscoreBench())
  .then(() => import('./group-oscore.bench'))
  .then((m) => m.runGroupOscoreBench())
  .then(() => import('./patch-notifications.bench'))
  .then((m) => m.runPatchNotificationsBench());
