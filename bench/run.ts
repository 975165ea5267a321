// npm run bench: every micro-benchmark, each printing figures and ratios measured in the same run.
import { runCoapCodecBench } from './coap-codec.bench';

runCoapCodecBench();
