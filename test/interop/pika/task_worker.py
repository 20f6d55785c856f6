# A Warren task worker written from docs/task-protocol.md alone, with pika and the standard library.
# Usage: task_worker.py HOST PORT TASKS TIMEOUT_SECONDS NAME...
# Consumes the work queues of the NAMEs (each one of HANDLERS), one task at a time, and exits 0 once
# TASKS tasks have ended (succeeded, failed, dead or poison; a retry does not end a task), or 3 when
# TIMEOUT_SECONDS pass first. Prints one JSON line per settled delivery: id, name, attempt, outcome.
import collections
import json
import math
import os
import random
import socket
import sys
import threading
import time
import traceback

import pika

PREFIX = 'warren.task'
EVENTS_EXCHANGE = PREFIX + '.events'
KEEPER_QUEUE = PREFIX + '.keeper'
JSON_TYPE = 'application/json'
DEATH_HEADERS = ('x-death', 'x-first-death-', 'x-last-death-')


class NonRetryableError(Exception):
    """Raised by a handler: the task fails at once, without retries (TaskError.retryable false)."""
    retryable = False


LOST_DELIVERIES_MAX = 20


class MalformedTaskError(Exception):
    """A message that is not a task this worker can run (section 4.2, steps 1 and 2)."""
    retryable = False


def add(payload, task):
    return payload['a'] + payload['b']


def flaky(payload, task):
    if task['attempt'] < 3:
        raise RuntimeError('flaky failure on attempt %d' % task['attempt'])
    return {'attempt': task['attempt'], 'echo': payload}


def fatal(payload, task):
    raise NonRetryableError('cannot process %s' % json.dumps(payload))


def slow(payload, task):
    time.sleep(payload['ms'] / 1000.0)
    return payload['ms']


HANDLERS = {'py-add': add, 'py-flaky': flaky, 'py-fatal': fatal, 'py-slow': slow}


def now_ms():
    return int(time.time() * 1000)


def work_queue(name):
    return '%s.%s' % (PREFIX, name)


# Section 2, headers: any AMQP integer type is an int to pika (a bool is not an integer here).
def integer_header(headers, key, default=None, minimum=0):
    value = headers.get(key)
    if value is None:
        if default is None:
            raise MalformedTaskError('header %s is missing' % key)
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise MalformedTaskError('header %s must be an integer >= %d' % (key, minimum))
    return int(value)


def read_task(properties, name):
    headers = properties.headers or {}
    if integer_header(headers, 'x-task-protocol', 1) != 1:
        raise MalformedTaskError('unsupported x-task-protocol')
    task_id = headers.get('x-task-id')
    if not isinstance(task_id, str) or task_id == '':
        raise MalformedTaskError('header x-task-id is missing or not a string')
    if headers.get('x-task-name') != name:
        raise MalformedTaskError('header x-task-name is not %s' % name)
    backoff = headers.get('x-task-backoff', 'exponential')
    jitter = headers.get('x-task-backoff-jitter', True)
    if backoff not in ('fixed', 'exponential') or not isinstance(jitter, bool):
        raise MalformedTaskError('bad x-task-backoff or x-task-backoff-jitter')
    return {
        'id': task_id, 'name': name,
        'attempt': integer_header(headers, 'x-task-attempt', 1, 1),
        'max_attempts': integer_header(headers, 'x-task-max-attempts', 1, 1),
        'timeout_ms': integer_header(headers, 'x-task-timeout-ms', 0),
        'run': integer_header(headers, 'x-task-run', 1, 1),
        'backoff': backoff, 'delay_ms': integer_header(headers, 'x-task-backoff-delay-ms', 1000), 'jitter': jitter,
    }


def read_payload(properties, body):
    if properties.content_type not in (None, JSON_TYPE):
        raise MalformedTaskError('unsupported content type %s' % properties.content_type)
    if body == b'':
        return None  # an empty body is no payload (section 2)
    try:
        return json.loads(body.decode('utf-8'))
    except ValueError as error:
        raise MalformedTaskError('body is not JSON: %s' % error)


# Section 4.4: the delay before the next attempt, then rounded to two significant digits. Python's
# round() rounds halves to even (12.5 -> 12); the protocol rounds them up (1250 -> 1300).
def retry_delay_ms(task):
    if task['backoff'] == 'fixed':
        return task['delay_ms']
    ceiling = task['delay_ms'] * 2 ** (task['attempt'] - 1)
    return int(math.floor(random.random() * ceiling)) if task['jitter'] else ceiling


def wait_queue_delay_ms(delay):
    if delay <= 0:
        return 0
    magnitude = 10 ** max(0, int(math.floor(math.log10(delay))) - 1)
    return max(1, int(math.floor(delay / magnitude + 0.5)) * magnitude)


def task_error(error):
    stack = traceback.format_exception(type(error), error, error.__traceback__)
    return {'name': type(error).__name__, 'message': str(error),
            'retryable': getattr(error, 'retryable', True) is not False, 'stack': ''.join(stack)[:4096]}


def run_handler(handler, payload, task):
    """Runs the handler; past x-task-timeout-ms the attempt fails with TimeoutError (the thread is let go)."""
    if task['timeout_ms'] <= 0:
        return handler(payload, task)
    outcome = {}

    def target():
        try:
            outcome['result'] = handler(payload, task)
        except Exception as error:  # handed to the main thread below
            outcome['error'] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(task['timeout_ms'] / 1000.0)
    if thread.is_alive():
        raise TimeoutError('task attempt timed out after %d ms' % task['timeout_ms'])
    if 'error' in outcome:
        raise outcome['error']
    return outcome.get('result')


class Worker:
    def __init__(self, host, port, names):
        self.connection = pika.BlockingConnection(pika.ConnectionParameters(host, port))
        self.worker_id = '%s:%d:%s' % (socket.gethostname(), os.getpid(), os.urandom(3).hex())
        self.names = names
        # Section 4.1: outcomes go out on a second channel, in confirm mode (basic_publish then blocks
        # until the broker's basic.ack and raises NackError on a basic.nack).
        self.publishing = self.connection.channel()
        self.publishing.confirm_delivery()
        self.declare_topology()
        self.consuming = self.connection.channel()
        self.consuming.basic_qos(prefetch_count=1)  # one task at a time
        self.pending = collections.deque()
        self.consumer_tags = [
            self.consuming.basic_consume(work_queue(name), lambda _ch, method, props, body, name=name:
                                         self.pending.append((name, method, props, body)))
            for name in names]

    def declare_topology(self):
        channel = self.publishing
        channel.exchange_declare(EVENTS_EXCHANGE, exchange_type='topic', durable=True)
        channel.queue_declare(KEEPER_QUEUE, durable=True)
        channel.queue_bind(KEEPER_QUEUE, EVENTS_EXCHANGE, routing_key='#')
        for name in self.names:
            channel.queue_declare(work_queue(name), durable=True, arguments={'x-max-priority': 10})
            channel.queue_declare(work_queue(name) + '.dead', durable=True)

    def publish_json(self, exchange, routing_key, value, **properties):
        body = json.dumps(value, allow_nan=False)
        self.publishing.basic_publish(exchange, routing_key, body, pika.BasicProperties(content_type=JSON_TYPE, **properties))

    def event(self, kind, task, **details):
        event = {'protocol': 1, 'kind': kind, 'id': task['id'], 'name': task['name'], 'run': task['run'],
                 'attempt': task['attempt'], 'at': details.pop('at', now_ms())}
        event.update(details)
        self.publish_json(EVENTS_EXCHANGE, '%s.%s' % (kind, task['name']), event, delivery_mode=2)

    def reply(self, properties, task, state, **outcome):
        if properties.reply_to:
            body = {'protocol': 1, 'id': task['id'], 'name': task['name'], 'state': state, 'attempt': task['attempt']}
            body.update(outcome)
            chosen = (properties.headers or {}).get('x-task-reply-correlation-id')
            correlation_id = chosen if isinstance(chosen, str) and chosen else task['id']
            self.publish_json('', properties.reply_to, body, correlation_id=correlation_id)

    def publish_copy(self, routing_key, properties, body, changes):
        headers = {key: value for key, value in (properties.headers or {}).items() if not key.startswith(DEATH_HEADERS)}
        headers.update(changes)
        # user_id is dropped too, unlike the doc says: the broker refuses (406) a user_id that is not the
        # publishing connection's user, and a submitter may have set its own.
        changed = dict(vars(properties), headers=headers, delivery_mode=2, expiration=None, user_id=None)
        self.publishing.basic_publish('', routing_key, body, pika.BasicProperties(**changed))

    def retrying(self, properties, body, task, error):
        delay = wait_queue_delay_ms(retry_delay_ms(task))
        queue = work_queue(task['name'])
        if delay > 0:
            wait = '%s.wait.%d' % (queue, delay)
            self.publishing.queue_declare(wait, durable=True, arguments={
                'x-message-ttl': delay, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queue,
                'x-expires': delay + 60000})
            queue = wait
        # Taken before the copy is published (and confirmed): the broker starts its TTL after this, so the
        # next attempt never comes before retryAt.
        at = now_ms()
        self.publish_copy(queue, properties, body, {'x-task-attempt': task['attempt'] + 1})
        self.event('retrying', task, at=at, error=error, retryAt=at + delay)

    def dead_letter(self, name, properties, body, error):
        self.publish_copy(work_queue(name) + '.dead', properties, body, {'x-task-error': json.dumps(error)})

    def dead(self, properties, body, task, error):
        self.dead_letter(task['name'], properties, body, error)
        self.event('dead', task, error=error)
        self.reply(properties, task, 'dead', error=error)
        return 'dead'

    def failure(self, properties, body, task, error):
        """Section 4.2 step 5: failed, retrying or dead, recorded; returns which."""
        if not error['retryable']:
            self.event('failed', task, error=error)
            self.reply(properties, task, 'failed', error=error)
            return 'failed'
        if task['attempt'] < task['max_attempts']:
            self.retrying(properties, body, task, error)
            return 'retrying'
        return self.dead(properties, body, task, error)

    def attempt(self, name, properties, body):
        """One delivery (section 4.2, steps 1 to 6); returns the task (None for poison) and its outcome."""
        try:
            task = read_task(properties, name)
        except MalformedTaskError as error:
            # A poison message goes to the dead-letter queue with its error, and no event.
            self.dead_letter(name, properties, body, task_error(error))
            return None, 'poison'
        try:
            payload = read_payload(properties, body)
        except MalformedTaskError as error:
            return task, self.dead(properties, body, task, task_error(error))
        lost = (properties.headers or {}).get('x-delivery-count', 0)
        if isinstance(lost, int) and lost >= LOST_DELIVERIES_MAX:
            # Returned to its queue that often without an outcome: dead, not tried again (section 4.2).
            error = {'name': 'WorkerLostError', 'retryable': False,
                     'message': 'the task came back to its queue %d times without an outcome' % lost}
            return task, self.dead(properties, body, task, error)
        self.event('started', task, worker=self.worker_id)
        try:
            result = run_handler(HANDLERS[name], payload, task)
        except Exception as error:
            return task, self.failure(properties, body, task, task_error(error))
        try:
            json.dumps(result, allow_nan=False)
        except (TypeError, ValueError) as error:
            unencodable = NonRetryableError('result is not JSON-encodable: %s' % error)
            return task, self.failure(properties, body, task, task_error(unencodable))
        self.event('succeeded', task, result=result)
        self.reply(properties, task, 'succeeded', result=result)
        return task, 'succeeded'

    def settle(self, name, method, properties, body):
        """Acks only once every publish of the outcome was confirmed; a refused one requeues it (step 7).
        A closed channel ends the worker: closing the connection gives the delivery back to the broker."""
        try:
            task, outcome = self.attempt(name, properties, body)
        except pika.exceptions.NackError as error:
            print('recording failed, requeued: %r' % error, file=sys.stderr)
            self.consuming.basic_nack(method.delivery_tag, requeue=True)
            return False
        self.consuming.basic_ack(method.delivery_tag)
        report = {'id': None, 'attempt': None} if task is None else {'id': task['id'], 'attempt': task['attempt']}
        print(json.dumps(dict(report, name=name, outcome=outcome)), flush=True)
        return outcome != 'retrying'

    def run(self, tasks, timeout_seconds):
        deadline = time.monotonic() + timeout_seconds
        ended = 0
        while ended < tasks and time.monotonic() < deadline:
            self.connection.process_data_events(time_limit=0.05)
            while self.pending and ended < tasks:
                ended += 1 if self.settle(*self.pending.popleft()) else 0
        self.close()
        return ended >= tasks

    def close(self):
        """Section 4.6: stop taking work, give back what was delivered but not run, close."""
        for tag in self.consumer_tags:
            self.consuming.basic_cancel(tag)
        for _name, method, _properties, _body in self.pending:
            self.consuming.basic_nack(method.delivery_tag, requeue=True)
        self.connection.close()


def main():
    host, port, tasks, timeout_seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    names = sys.argv[5:]
    unknown = [name for name in names if name not in HANDLERS]
    if not names or unknown:
        sys.exit('usage: task_worker.py HOST PORT TASKS TIMEOUT_SECONDS NAME... (names: %s)' % ', '.join(HANDLERS))
    if not Worker(host, port, names).run(tasks, timeout_seconds):
        print('timed out before %d tasks ended' % tasks, file=sys.stderr)
        sys.exit(3)


if __name__ == '__main__':
    main()
