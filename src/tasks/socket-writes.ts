/**
 * Coalesces an AMQP client's socket writes within one event-loop turn. @cloudamqp/amqp-client writes
 * every publish and ack to its socket at once, one system call each; a busy submitter or worker makes
 * several per task. Corking the client's socket (its public `socket` field) before such a write and
 * uncorking it when the turn ends sends everything written in the turn in one call.
 */
import type { AMQPChannel } from '@cloudamqp/amqp-client';
import type { Socket } from 'node:net';

const corked = new WeakSet<Socket>();

/** The TCP socket of `channel`'s connection, if it has one. */
function socketOf(channel: AMQPChannel): Socket | undefined {
  return (channel.connection as { socket?: Socket | undefined } | undefined)?.socket;
}

/** Holds the writes of `channel`'s connection until the end of this event-loop turn (no-op without a TCP socket). */
export function coalesceWrites(channel: AMQPChannel): void {
  const socket = socketOf(channel);
  if (socket === undefined || corked.has(socket) || socket.destroyed) return;
  corked.add(socket);
  socket.cork();
  setImmediate(() => {
    corked.delete(socket);
    socket.uncork();
  });
}

/** Runs `write` with `channel`'s connection held, so that what it writes leaves in one system call at its end. */
export function holdWrites(channel: AMQPChannel, write: () => void): void {
  const socket = socketOf(channel);
  if (socket === undefined || socket.destroyed) return write();
  socket.cork();
  try {
    write();
  } finally {
    socket.uncork();
  }
}
