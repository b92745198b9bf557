// The main two-hop scenario with the Helm version the harness uses by default.
import { twoHopScenario } from './main-scenario.ts';

twoHopScenario('v3.18.0');
