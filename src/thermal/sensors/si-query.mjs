// One systeminformation graphics() query in its own process, printed as JSON on stdout.
// A process, not a thread: graphics() runs nvidia-smi synchronously (execFileSync) and lspci,
// and a wedged driver can hang that call; the parent kills this process on its timeout.
// Plain JavaScript so it starts fast without a TypeScript loader.
import si from 'systeminformation';

const g = await si.graphics();
const nvidia = g.controllers
  .filter((c) => /nvidia/i.test(`${c.vendor} ${c.model} ${c.name ?? ''}`))
  .map((c) => ({
    name: c.name || c.model || '',
    model: c.model || '',
    driverVersion: c.driverVersion || '',
    pciBus: c.pciBus || c.busAddress || '',
    temperatureC: typeof c.temperatureGpu === 'number' ? c.temperatureGpu : null,
    powerW: typeof c.powerDraw === 'number' ? c.powerDraw : null,
    utilization: typeof c.utilizationGpu === 'number' ? c.utilizationGpu / 100 : null,
    memoryTotalMiB: typeof c.memoryTotal === 'number' ? c.memoryTotal : null,
  }));
process.stdout.write(`${JSON.stringify(nvidia)}\n`);
