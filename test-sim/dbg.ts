import { runSimulation } from './sim';
import { loadScenario } from './scenarios/scenario';
const r = await runSimulation({ engine: 'node', scenario: loadScenario(process.argv[2]), seed: 1 });
for (const e of r.events.filter(e => new RegExp(process.argv[3]).test(e.event)).slice(0, Number(process.argv[4] ?? 20))) console.log(e.device, (e.t/1000).toFixed(1), e.event, JSON.stringify(e.fields ?? {}));
