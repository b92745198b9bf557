// The main two-hop scenario with the other Helm versions: an older Helm 3 and Helm 4.
import { twoHopScenario } from './main-scenario.ts';

twoHopScenario('v3.17.3');
twoHopScenario('v4.1.4');
