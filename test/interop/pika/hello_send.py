# The seed example, verbatim except that the port can be given as the first argument (tests run
# the broker on an ephemeral port).
import sys

import pika

port = int(sys.argv[1]) if len(sys.argv) > 1 else 5672

# 连接到RabbitMQ服务器
connection = pika.BlockingConnection(pika.ConnectionParameters('localhost', port))
channel = connection.channel()

# 创建队列
channel.queue_declare(queue='hello')

# 发送消息
channel.basic_publish(exchange='', routing_key='hello', body='Hello World!')

# 关闭连接
connection.close()
