#!/bin/sh
# Starts (or stops) a private RabbitMQ node configured the way the protocol and connection tests
# expect an external broker to be, so those tests can be checked against real RabbitMQ:
#
#   sh test/interop/rabbitmq-node.sh start [port]    # default port 5674
#   WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5674 WARREN_TEST_HANDSHAKE_TIMEOUT_MS=2000 \
#     node scripts/run-tests.mjs test/integration/protocol-*.test.ts test/integration/connection-*.test.ts \
#       test/interop/pika.test.ts
#   sh test/interop/rabbitmq-node.sh stop [port]
#
# The node gets: handshake_timeout = 2000 ms (tests read it from WARREN_TEST_HANDSHAKE_TIMEOUT_MS),
# vhost "warren-test-vhost", and user "warren-alice"/"alice-secret" with full permissions on that
# vhost only (the in-process tests configure the same through startTestBroker).
set -eu

action=${1:-start}
port=${2:-5674}
base=/tmp/rmq-warren-$port
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_NODENAME=rabbit-warren-$port@localhost
export RABBITMQ_MNESIA_BASE=$base/mnesia
export RABBITMQ_LOG_BASE=$base/log
export RABBITMQ_DIST_PORT=$((port + 20000))
export RABBITMQ_CONFIG_FILE=$base/rabbitmq
export RABBITMQ_ENABLED_PLUGINS_FILE=$base/enabled_plugins
export HOME=$base
bin=/usr/lib/rabbitmq/bin

case $action in
  start)
    mkdir -p "$base/mnesia" "$base/log"
    echo '[].' > "$base/enabled_plugins"
    printf 'handshake_timeout = 2000\nloopback_users.guest = true\n' > "$base/rabbitmq.conf"
    nohup "$bin/rabbitmq-server" > "$base/server.out" 2>&1 &
    i=0
    until "$bin/rabbitmqctl" await_startup --timeout 10 > /dev/null 2>&1; do
      i=$((i + 1))
      if [ $i -ge 12 ]; then
        echo "RabbitMQ did not start; see $base/server.out" >&2
        exit 1
      fi
      sleep 1
    done
    "$bin/rabbitmqctl" add_vhost warren-test-vhost > /dev/null 2>&1 || true
    "$bin/rabbitmqctl" add_user warren-alice alice-secret > /dev/null 2>&1 || true
    "$bin/rabbitmqctl" set_permissions -p warren-test-vhost warren-alice '.*' '.*' '.*' > /dev/null
    echo "export WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:$port WARREN_TEST_HANDSHAKE_TIMEOUT_MS=2000"
    ;;
  stop)
    "$bin/rabbitmqctl" stop > /dev/null
    ;;
  *)
    echo "usage: $0 start|stop [port]" >&2
    exit 2
    ;;
esac
