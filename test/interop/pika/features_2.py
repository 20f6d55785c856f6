# pika checks of queue and consumer features: priority queues, direct reply-to RPC, single active
# consumer and alternate exchanges. Usage: features_2.py HOST PORT SCENARIO
# Each scenario prints "OK <scenario>" on success and exits non-zero (with a traceback) otherwise.
import os
import sys
import time

import pika

host, port, scenario = sys.argv[1], int(sys.argv[2]), sys.argv[3]
suffix = '%d-%d' % (os.getpid(), int(time.time() * 1000))
REPLY_TO = 'amq.rabbitmq.reply-to'


def connect():
    return pika.BlockingConnection(pika.ConnectionParameters(host, port))


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def pump(connection, done, seconds=5):
    """Processes I/O until done() is true; fails after `seconds`."""
    deadline = time.time() + seconds
    while not done():
        expect(time.time() < deadline, 'timed out waiting')
        connection.process_data_events(time_limit=0.05)


def settle(connection, seconds=0.2):
    """Processes I/O for a while, to prove that nothing (more) arrives."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        connection.process_data_events(time_limit=0.05)


def priority_queue():
    connection = connect()
    channel = connection.channel()
    channel.confirm_delivery()
    queue = channel.queue_declare(queue='', exclusive=True, arguments={'x-max-priority': 5}).method.queue
    published = [('low', 1), ('none', None), ('high', 5), ('too-high', 9), ('mid', 3), ('high-2', 5)]
    for body, priority in published:
        channel.basic_publish(exchange='', routing_key=queue, body=body,
                              properties=pika.BasicProperties(priority=priority))
    received = []
    channel.basic_consume(queue=queue, auto_ack=True,
                          on_message_callback=lambda ch, method, props, body: received.append(
                              (body.decode(), props.priority)))
    pump(connection, lambda: len(received) == len(published))
    # Priorities above x-max-priority count as the maximum; the property itself is delivered unchanged.
    expected = [('high', 5), ('too-high', 9), ('high-2', 5), ('mid', 3), ('low', 1), ('none', None)]
    expect(received == expected, 'priority order %r' % received)
    connection.close()


def direct_reply_to():
    """pika's documented direct reply-to example (examples/direct_reply_to.py), then checks around it."""
    connection = connect()
    channel = connection.channel()
    server_queue = 'warren-rpc-server-' + suffix
    channel.queue_declare(queue=server_queue, exclusive=True, auto_delete=True)
    seen_reply_to = []
    replies = []

    def on_server_rx_rpc_request(ch, method_frame, properties, body):
        seen_reply_to.append(properties.reply_to)
        ch.basic_publish('', routing_key=properties.reply_to, body=b'Polo',
                         properties=pika.BasicProperties(correlation_id=properties.correlation_id))
        ch.basic_ack(delivery_tag=method_frame.delivery_tag)

    def on_client_rx_reply_from_server(ch, method_frame, properties, body):
        replies.append((body, properties.correlation_id, method_frame.routing_key))

    channel.basic_consume(server_queue, on_server_rx_rpc_request)
    # The client must consume with auto_ack=True before publishing requests on the same channel.
    channel.basic_consume(REPLY_TO, on_client_rx_reply_from_server, auto_ack=True)
    channel.basic_publish(exchange='', routing_key=server_queue, body='Marco',
                          properties=pika.BasicProperties(reply_to=REPLY_TO, correlation_id='c-1'))
    pump(connection, lambda: len(replies) == 1)
    reply_to = seen_reply_to[0]
    expect(reply_to.startswith(REPLY_TO + '.') and len(reply_to) > len(REPLY_TO) + 1,
           'rewritten reply_to %r' % reply_to)
    expect(replies[0] == (b'Polo', 'c-1', reply_to), 'reply %r' % (replies[0],))

    # A reply consumer that would acknowledge is refused.
    other = connection.channel()
    try:
        other.basic_consume(REPLY_TO, lambda *args: None, auto_ack=False)
        raise AssertionError('consuming amq.rabbitmq.reply-to without auto_ack must fail')
    except pika.exceptions.ChannelClosedByBroker as error:
        expect(error.reply_code == 406, 'reply code %r' % error.reply_code)
        expect(error.reply_text == 'PRECONDITION_FAILED - reply consumer cannot acknowledge', error.reply_text)

    # A request with reply_to amq.rabbitmq.reply-to from a channel without a reply consumer closes it.
    lonely = connection.channel()
    lonely.basic_publish(exchange='', routing_key=server_queue, body='orphan',
                         properties=pika.BasicProperties(reply_to=REPLY_TO))
    try:
        pump(connection, lambda: lonely.is_closed)
    except pika.exceptions.ChannelClosedByBroker:
        pass
    expect(lonely.is_closed, 'the channel without a reply consumer is closed')
    expect(connection.is_open, 'the connection stays open')
    connection.close()


def single_active_consumer():
    connection = connect()
    queue = 'warren-sac-' + suffix
    setup = connection.channel()
    setup.queue_declare(queue=queue, auto_delete=False, arguments={'x-single-active-consumer': True})
    setup.confirm_delivery()
    got = {'first': [], 'second': [], 'third': []}
    channels = {}

    def record(name):
        def on_message(ch, method, properties, body):
            got[name].append((body.decode(), method.redelivered, method.delivery_tag))
        return on_message

    def bodies(name):
        return [(body, redelivered) for body, redelivered, _ in got[name]]

    for name in ('first', 'second', 'third'):
        channels[name] = connection.channel()
        channels[name].basic_qos(prefetch_count=2)
    # Nobody acknowledges until told to.
    first_tag = channels['first'].basic_consume(queue, record('first'))
    channels['second'].basic_consume(queue, record('second'))
    channels['third'].basic_consume(queue, record('third'))
    expect(setup.queue_declare(queue=queue, passive=True).method.consumer_count == 3, 'three consumers')
    for i in range(3):
        setup.basic_publish(exchange='', routing_key=queue, body='m%d' % i)
    pump(connection, lambda: len(got['first']) == 2)
    settle(connection)
    # Only the first registered consumer gets messages, even while its prefetch is full.
    expect(bodies('first') == [('m0', False), ('m1', False)], 'first %r' % got['first'])
    expect(got['second'] == [] and got['third'] == [], 'waiting consumers got nothing: %r' % got)
    channels['first'].basic_ack(delivery_tag=got['first'][0][2])
    pump(connection, lambda: len(got['first']) == 3)
    # The active consumer cancels; what it still holds and returns goes to the next registered consumer.
    channels['first'].basic_cancel(first_tag)
    channels['first'].basic_nack(delivery_tag=0, multiple=True, requeue=True)
    pump(connection, lambda: len(got['second']) == 2)
    settle(connection)
    expect(bodies('second') == [('m1', True), ('m2', True)], 'second %r' % got['second'])
    expect(got['third'] == [], 'third got nothing: %r' % got['third'])
    setup.queue_delete(queue=queue)
    connection.close()


def alternate_exchange():
    connection = connect()
    channel = connection.channel()
    channel.confirm_delivery()
    alternate = 'warren-ae-' + suffix
    main = 'warren-main-' + suffix
    channel.exchange_declare(exchange=alternate, exchange_type='fanout', auto_delete=False)
    channel.exchange_declare(exchange=main, exchange_type='direct', arguments={'alternate-exchange': alternate})
    caught = channel.queue_declare(queue='', exclusive=True).method.queue
    channel.queue_bind(queue=caught, exchange=alternate)
    # Routed by the alternate exchange, so a mandatory publish is not returned.
    channel.basic_publish(exchange=main, routing_key='nowhere', body='caught', mandatory=True)
    method, _, body = channel.basic_get(queue=caught, auto_ack=True)
    expect(method is not None and body == b'caught', 'the alternate exchange got the message')
    expect(method.exchange == main and method.routing_key == 'nowhere', 'original exchange and key %r' % method)
    channel.exchange_delete(exchange=alternate)
    try:
        channel.basic_publish(exchange=main, routing_key='nowhere', body='lost', mandatory=True)
        raise AssertionError('with the alternate exchange gone the message must be returned')
    except pika.exceptions.UnroutableError:
        pass
    channel.exchange_delete(exchange=main)
    connection.close()


SCENARIOS = {
    'priority_queue': priority_queue,
    'direct_reply_to': direct_reply_to,
    'single_active_consumer': single_active_consumer,
    'alternate_exchange': alternate_exchange,
}

SCENARIOS[scenario]()
print('OK ' + scenario)
