# Queue features seen through pika: dead-lettering with the x-death header as pika decodes it,
# per-message TTL expiry to a dead-letter exchange, max-length drop-head, reject-publish nacks and an
# invalid expiration. Usage: queue_features.py HOST PORT SCENARIO
# Each scenario prints "OK <scenario>" on success and exits non-zero (with a traceback) otherwise.
import datetime
import os
import sys
import time

import pika
import pika.compat

host, port, scenario = sys.argv[1], int(sys.argv[2]), sys.argv[3]
suffix = '%d-%d' % (os.getpid(), int(time.time() * 1000))


def connect():
    return pika.BlockingConnection(pika.ConnectionParameters(host, port))


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def dead_letter_setup(channel, arguments):
    """A fanout dead-letter exchange with an exclusive queue behind it, and an exclusive source
    queue dead-lettering to it with the given extra arguments. Returns (exchange, source, dead)."""
    exchange = 'warren-pika-dlx-' + suffix
    # Auto-delete: the exchange goes with the exclusive queue bound to it, even if a check fails midway.
    channel.exchange_declare(exchange=exchange, exchange_type='fanout', auto_delete=True)
    dead = channel.queue_declare(queue='', exclusive=True).method.queue
    channel.queue_bind(queue=dead, exchange=exchange)
    arguments = dict(arguments, **{'x-dead-letter-exchange': exchange})
    source = channel.queue_declare(queue='', exclusive=True, arguments=arguments).method.queue
    return exchange, source, dead


def get_within(channel, queue, auto_ack=True, seconds=5):
    """basic_get until a message arrives; fails after `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        method, properties, body = channel.basic_get(queue=queue, auto_ack=auto_ack)
        if method is not None:
            return method, properties, body
        time.sleep(0.02)
    raise AssertionError('no message on %s within %ss' % (queue, seconds))


def drain(channel, queue):
    bodies = []
    while True:
        method, _, body = channel.basic_get(queue=queue, auto_ack=True)
        if method is None:
            return bodies
        bodies.append(body.decode())


def check_death(death, count, reason, queue, exchange, routing_keys, original_expiration=None):
    expected_keys = {'count', 'reason', 'queue', 'time', 'exchange', 'routing-keys'}
    if original_expiration is not None:
        expected_keys.add('original-expiration')
        expect(death['original-expiration'] == original_expiration, 'original-expiration %r' % death)
    expect(set(death.keys()) == expected_keys, 'x-death keys %r' % sorted(death.keys()))
    # pika decodes the 'l' (signed 64-bit) field type as pika.compat.long, other integers as int.
    expect(type(death['count']) is pika.compat.long, 'count is a long, got %r' % type(death['count']))
    expect(death['count'] == count, 'count %r' % death['count'])
    expect(death['reason'] == reason, 'reason %r' % death['reason'])
    expect(death['queue'] == queue, 'queue %r' % death['queue'])
    expect(death['exchange'] == exchange, 'exchange %r' % death['exchange'])
    expect(death['routing-keys'] == routing_keys, 'routing-keys %r' % death['routing-keys'])
    # 'T' (timestamp) decodes to a naive UTC datetime.
    expect(isinstance(death['time'], datetime.datetime), 'time is a datetime, got %r' % death['time'])
    drift = abs((datetime.datetime.utcnow() - death['time']).total_seconds())
    expect(drift < 60, 'time %r is about now' % death['time'])


def dlx_reject():
    connection = connect()
    channel = connection.channel()
    exchange, source, dead = dead_letter_setup(channel, {})
    channel.basic_publish(exchange='', routing_key=source, body='poison',
                          properties=pika.BasicProperties(headers={'app': 'kept'}, delivery_mode=2))
    method, _, _ = get_within(channel, source, auto_ack=False)
    channel.basic_reject(delivery_tag=method.delivery_tag, requeue=False)
    method, properties, body = get_within(channel, dead)
    expect(body == b'poison', 'body %r' % body)
    expect(method.exchange == exchange and method.routing_key == source, 'routed with the original key: %r' % method)
    expect(properties.delivery_mode == 2, 'persistent is kept')
    headers = properties.headers
    expect(headers['app'] == 'kept', 'other headers are kept: %r' % headers)
    deaths = headers['x-death']
    expect(isinstance(deaths, list) and len(deaths) == 1, 'x-death is a list of one table: %r' % deaths)
    check_death(deaths[0], 1, 'rejected', source, '', [source])
    expect(headers['x-first-death-reason'] == 'rejected', repr(headers))
    expect(headers['x-first-death-queue'] == source, repr(headers))
    expect(headers['x-first-death-exchange'] == '', repr(headers))
    channel.exchange_delete(exchange=exchange)
    connection.close()


def ttl_dlx():
    connection = connect()
    channel = connection.channel()
    exchange, source, dead = dead_letter_setup(channel, {})
    channel.basic_publish(exchange='', routing_key=source, body='stale',
                          properties=pika.BasicProperties(expiration='100', message_id='m-1'))
    _, properties, body = get_within(channel, dead)
    expect(body == b'stale', 'body %r' % body)
    expect(properties.expiration is None, 'expiration is removed: %r' % properties.expiration)
    expect(properties.message_id == 'm-1', 'other properties are kept')
    check_death(properties.headers['x-death'][0], 1, 'expired', source, '', [source], original_expiration='100')
    expect(drain(channel, source) == [], 'the expired message left its queue')
    channel.exchange_delete(exchange=exchange)
    connection.close()


def max_length_drop_head():
    connection = connect()
    channel = connection.channel()
    channel.confirm_delivery()
    exchange, source, dead = dead_letter_setup(channel, {'x-max-length': 2})
    for body in ['1', '2', '3', '4']:
        channel.basic_publish(exchange='', routing_key=source, body=body)
    expect(drain(channel, source) == ['3', '4'], 'the newest two are kept')
    dropped = []
    for _ in range(2):
        _, properties, body = get_within(channel, dead)
        dropped.append(body.decode())
        check_death(properties.headers['x-death'][0], 1, 'maxlen', source, '', [source])
    expect(dropped == ['1', '2'], 'the oldest two are dead-lettered in order: %r' % dropped)
    channel.exchange_delete(exchange=exchange)
    connection.close()


def reject_publish_nack():
    connection = connect()
    channel = connection.channel()
    channel.confirm_delivery()
    queue = channel.queue_declare(queue='', exclusive=True,
                                  arguments={'x-max-length': 1, 'x-overflow': 'reject-publish'}).method.queue
    channel.basic_publish(exchange='', routing_key=queue, body='fits')
    try:
        channel.basic_publish(exchange='', routing_key=queue, body='refused')
        raise AssertionError('a publish over the limit must be nacked')
    except pika.exceptions.NackError:
        pass
    expect(channel.is_open, 'a nack is not a channel error')
    expect(drain(channel, queue) == ['fits'], 'only the first message is queued')
    connection.close()


def invalid_expiration():
    connection = connect()
    channel = connection.channel()
    channel.confirm_delivery()
    queue = channel.queue_declare(queue='', exclusive=True).method.queue
    try:
        channel.basic_publish(exchange='', routing_key=queue, body='x', properties=pika.BasicProperties(expiration='abc'))
        raise AssertionError('an invalid expiration must close the channel')
    except pika.exceptions.ChannelClosedByBroker as error:
        expect(error.reply_code == 406, 'reply code %r' % error.reply_code)
        expected = "PRECONDITION_FAILED - invalid expiration 'abc': no_integer"
        expect(error.reply_text == expected, 'reply text %r' % error.reply_text)
    expect(connection.is_open, 'the connection stays open')
    connection.close()


SCENARIOS = {
    'dlx_reject': dlx_reject,
    'ttl_dlx': ttl_dlx,
    'max_length_drop_head': max_length_drop_head,
    'reject_publish_nack': reject_publish_nack,
    'invalid_expiration': invalid_expiration,
}

SCENARIOS[scenario]()
print('OK ' + scenario)
