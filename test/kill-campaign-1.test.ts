// Kills 1–50 of the 100-point kill campaign (test/support/kill-campaign-suite.ts).
import { killCampaignSuite } from './support/kill-campaign-suite.js';

killCampaignSuite('1 of 2', [20261130, 7]);
