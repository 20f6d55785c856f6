# pika checks beyond the seed example. Usage: features.py HOST PORT SCENARIO
# Each scenario prints "OK <scenario>" on success and exits non-zero (with a traceback) otherwise.
import os
import sys
import time

import pika

host, port, scenario = sys.argv[1], int(sys.argv[2]), sys.argv[3]
suffix = '%d-%d' % (os.getpid(), int(time.time() * 1000))


def connect():
    return pika.BlockingConnection(pika.ConnectionParameters(host, port))


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def confirms():
    connection = connect()
    channel = connection.channel()
    channel.confirm_delivery()
    queue = channel.queue_declare(queue='', exclusive=True).method.queue
    for i in range(10):
        # With confirms on, basic_publish returns only once the broker has acked the message.
        channel.basic_publish(exchange='', routing_key=queue, body='confirmed %d' % i, mandatory=True)
    expect(channel.queue_declare(queue=queue, passive=True).method.message_count == 10, 'ten messages queued')
    try:
        channel.basic_publish(exchange='', routing_key='warren-unroutable-' + suffix, body='lost', mandatory=True)
        raise AssertionError('an unroutable mandatory publish must raise UnroutableError')
    except pika.exceptions.UnroutableError:
        pass
    connection.close()


def qos_ack():
    connection = connect()
    channel = connection.channel()
    queue = channel.queue_declare(queue='', exclusive=True).method.queue
    for i in range(5):
        channel.basic_publish(exchange='', routing_key=queue, body=str(i))
    channel.basic_qos(prefetch_count=2)
    deliveries = []

    def on_message(ch, method, properties, body):
        deliveries.append((method.delivery_tag, body.decode()))

    channel.basic_consume(queue=queue, on_message_callback=on_message)
    connection.process_data_events(time_limit=0.5)
    expect(len(deliveries) == 2, 'prefetch 2 allows exactly 2 unacked deliveries, got %d' % len(deliveries))
    acked = 0
    deadline = time.time() + 5
    while acked < 5 and time.time() < deadline:
        while acked < len(deliveries):
            channel.basic_ack(delivery_tag=deliveries[acked][0])
            acked += 1
        connection.process_data_events(time_limit=0.1)
        expect(len(deliveries) - acked <= 2, 'never more than 2 unacked deliveries')
    expect([body for _, body in deliveries] == ['0', '1', '2', '3', '4'], 'all five in order, got %r' % deliveries)
    connection.close()


def topic():
    connection = connect()
    channel = connection.channel()
    exchange = 'warren-topic-' + suffix
    channel.exchange_declare(exchange=exchange, exchange_type='topic', auto_delete=True)
    star = channel.queue_declare(queue='', exclusive=True).method.queue
    hash_ = channel.queue_declare(queue='', exclusive=True).method.queue
    channel.queue_bind(queue=star, exchange=exchange, routing_key='a.*')
    channel.queue_bind(queue=hash_, exchange=exchange, routing_key='#.z')
    for key in ['a.b', 'a.b.z', 'x.z', 'z', 'q.q', 'a']:
        channel.basic_publish(exchange=exchange, routing_key=key, body=key)

    def drain(queue):
        bodies = []
        deadline = time.time() + 5
        while time.time() < deadline:
            method, _, body = channel.basic_get(queue=queue, auto_ack=True)
            if method is None:
                if bodies and channel.queue_declare(queue=queue, passive=True).method.message_count == 0:
                    break
                time.sleep(0.05)
                continue
            bodies.append(body.decode())
        return sorted(bodies)

    got_star, got_hash = drain(star), drain(hash_)
    expect(got_star == ['a.b'], 'a.* got %r' % got_star)
    expect(got_hash == ['a.b.z', 'x.z', 'z'], '#.z got %r' % got_hash)
    channel.exchange_delete(exchange=exchange)
    connection.close()


def reject_requeue():
    connection = connect()
    channel = connection.channel()
    queue = channel.queue_declare(queue='', exclusive=True).method.queue
    channel.basic_publish(exchange='', routing_key=queue, body='again')
    method = None
    deadline = time.time() + 5
    while method is None and time.time() < deadline:
        method, _, body = channel.basic_get(queue=queue, auto_ack=False)
    expect(method is not None and not method.redelivered, 'first delivery is not redelivered')
    channel.basic_reject(delivery_tag=method.delivery_tag, requeue=True)
    method, _, body = channel.basic_get(queue=queue, auto_ack=False)
    expect(method is not None, 'the rejected message is back')
    expect(method.redelivered, 'the requeued message is marked redelivered')
    expect(body == b'again', 'same body')
    channel.basic_reject(delivery_tag=method.delivery_tag, requeue=False)
    method, _, _ = channel.basic_get(queue=queue, auto_ack=True)
    expect(method is None, 'a reject without requeue drops the message')
    connection.close()


def declare_mismatch():
    connection = connect()
    channel = connection.channel()
    queue = 'warren-mismatch-' + suffix
    channel.queue_declare(queue=queue, durable=False, auto_delete=True)
    try:
        channel.queue_declare(queue=queue, durable=True, auto_delete=True)
        raise AssertionError('a mismatching redeclare must close the channel')
    except pika.exceptions.ChannelClosedByBroker as error:
        expect(error.reply_code == 406, 'reply code %r' % error.reply_code)
        expect(error.reply_text.startswith('PRECONDITION_FAILED'), error.reply_text)
    expect(channel.is_closed, 'the channel is closed')
    expect(connection.is_open, 'the connection stays open')
    other = connection.channel()
    other.queue_declare(queue=queue, passive=True)
    other.queue_delete(queue=queue)
    connection.close()


SCENARIOS = {
    'confirms': confirms,
    'qos_ack': qos_ack,
    'topic': topic,
    'reject_requeue': reject_requeue,
    'declare_mismatch': declare_mismatch,
}

SCENARIOS[scenario]()
print('OK ' + scenario)
