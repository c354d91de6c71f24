import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { Scheduler } from '../../clock/scheduler';
import { MemoryNetwork } from '../../net/memory';

/** A network whose endpoint records what reaches it, with virtual arrival times. */
function world(latencyMs = 15) {
  const scheduler = new Scheduler();
  const served: { socket: Duplex; got: string[] }[] = [];
  const network = new MemoryNetwork(scheduler, {
    latencyMs,
    accept(socket) {
      const entry = { socket, got: [] as string[] };
      served.push(entry);
      socket.on('data', (chunk: Buffer) => entry.got.push(`${chunk}@${scheduler.now}`));
      socket.on('end', () => entry.got.push(`FIN@${scheduler.now}`));
      socket.on('error', (error: NodeJS.ErrnoException) => entry.got.push(`${error.code}@${scheduler.now}`));
    },
  });
  return { scheduler, network, served };
}

function connected(network: MemoryNetwork): Duplex {
  const socket = network.connect();
  if (socket instanceof Error) throw socket;
  return socket;
}

test('chunks arrive one latency later, in order, and a FIN after the data before it', async () => {
  const { scheduler, network, served } = world();
  scheduler.at(100, () => {
    const socket = connected(network);
    socket.write('a');
    socket.write('b');
    socket.end('c');
  });
  await scheduler.run(1000);
  assert.deepEqual(served[0].got, ['a@115', 'b@115', 'c@115', 'FIN@115']);
});

test('the other way too: what the endpoint writes reaches the device a latency later', async () => {
  const { scheduler, network, served } = world(20);
  const got: string[] = [];
  scheduler.at(0, () => {
    const socket = connected(network);
    socket.on('data', (chunk: Buffer) => got.push(`${chunk}@${scheduler.now}`));
    socket.write('hello');
  });
  scheduler.at(50, () => { served[0].socket.write('world'); });
  await scheduler.run(1000);
  assert.deepEqual(got, ['world@70']);
});

test('a destroy without end reaches the peer as a reset', async () => {
  const { scheduler, network, served } = world();
  scheduler.at(0, () => {
    const socket = connected(network);
    socket.on('error', () => {});
    socket.write('x');
    scheduler.at(10, () => { socket.destroy(); });
  });
  await scheduler.run(1000);
  assert.deepEqual(served[0].got, ['x@15', 'ECONNRESET@25']);
});

test('drop refuses new connections and resets open ones; pass lets them in again', async () => {
  const { scheduler, network, served } = world();
  let deviceSaw = '';
  scheduler.at(0, () => {
    const socket = connected(network);
    socket.on('error', (error: NodeJS.ErrnoException) => { deviceSaw = `${error.code}@${scheduler.now}`; });
  });
  scheduler.at(30, () => network.setMode('drop'));
  scheduler.at(40, () => {
    const refused = network.connect();
    assert.ok(refused instanceof Error && (refused as NodeJS.ErrnoException).code === 'ECONNREFUSED');
  });
  scheduler.at(50, () => network.setMode('pass'));
  scheduler.at(60, () => { connected(network).write('back'); });
  await scheduler.run(1000);
  assert.equal(deviceSaw, 'ECONNRESET@30');
  assert.deepEqual(served[0].got, ['ECONNRESET@30']);
  assert.deepEqual(served[1].got, ['back@75']);
  assert.deepEqual(network.stats, { accepted: 2, refused: 1, resets: 1 });
});

test('blackhole: chunks in flight and sent are lost, nothing is closed, a connect reaches nobody', async () => {
  const { scheduler, network, served } = world();
  let device: Duplex | undefined;
  scheduler.at(0, () => {
    device = connected(network);
    device.write('before');
    device.write('in-flight');
  });
  scheduler.at(5, () => network.setMode('blackhole'));
  scheduler.at(20, () => {
    device!.write('during');
    connected(network).write('syn-lost');
  });
  scheduler.at(100, () => network.setMode('pass'));
  scheduler.at(110, () => { device!.write('after'); });
  await scheduler.run(1000);
  assert.equal(served.length, 1, 'the connect during the blackhole never reached the endpoint');
  assert.deepEqual(served[0].got, ['after@125'], 'only what was sent after the path came back arrived; the connection stayed open');
});

test('reset() sends a reset both ways at once', async () => {
  const { scheduler, network, served } = world();
  let deviceSaw = '';
  scheduler.at(0, () => {
    connected(network).on('error', (error: NodeJS.ErrnoException) => { deviceSaw = `${error.code}@${scheduler.now}`; });
  });
  scheduler.at(500, () => network.reset());
  await scheduler.run(1000);
  assert.equal(deviceSaw, 'ECONNRESET@500');
  assert.deepEqual(served[0].got, ['ECONNRESET@500']);
});
