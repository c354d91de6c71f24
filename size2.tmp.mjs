import { build } from 'esbuild';
const r = await build({ entryPoints: ['firmware/app/main.ts'], bundle: true, minify: true, format: 'esm', platform: 'neutral', target: 'es2022', legalComments: 'none', write: false, logLevel: 'silent' });
const s = r.outputFiles[0].text;
const strs = s.match(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g);
let tot=0; for (const x of strs) tot+=x.length;
console.log('strings', strs.length, tot);
const counts = {}; for (const x of strs) counts[x]=(counts[x]||0)+1;
const arr = Object.entries(counts).map(([k,c])=>[k.length*c,c,k]).sort((a,b)=>b[0]-a[0]);
for (const a of arr.slice(0,60)) console.log(a[0], a[1], a[2].slice(0,120));
