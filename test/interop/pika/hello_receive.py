# Consumes one message from the 'hello' queue the seed example publishes to and prints its body.
import sys

import pika

port = int(sys.argv[1]) if len(sys.argv) > 1 else 5672

connection = pika.BlockingConnection(pika.ConnectionParameters('localhost', port))
channel = connection.channel()
channel.queue_declare(queue='hello')


def callback(ch, method, properties, body):
    print(body.decode())
    ch.basic_ack(delivery_tag=method.delivery_tag)
    ch.stop_consuming()


channel.basic_consume(queue='hello', on_message_callback=callback)
# Give up rather than hang if the message never comes.
connection.call_later(10, channel.stop_consuming)
channel.start_consuming()
connection.close()
