// Kills 51–100 of the 100-point kill campaign (test/support/kill-campaign-suite.ts).
import { killCampaignSuite } from './support/kill-campaign-suite.js';

killCampaignSuite('2 of 2', [99, 4242]);
