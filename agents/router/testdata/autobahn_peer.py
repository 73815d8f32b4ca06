"""A Python autobahn peer that behaves like an OCS agent, for the router's
interop test (agents/router/interop_test.go).

Usage: autobahn_peer.py URL REALM default|json

"default" offers every serializer this autobahn has (as OCS agents do);
"json" offers only wamp.2.json. The peer prints one line per step on stdout;
the Go test reads them:

  OFFERED <subprotocols, comma separated>
  PROTOCOL <negotiated subprotocol>
  NOTAUTH <error uri>           registering outside the address root
  READY                         registered and subscribed
  PUBLISHED                     published the typed event (acknowledged)
  EVENT <details.topic> <repr(args), dicts as sorted item lists>
  CALLED <repr(args)> <repr(kwargs)>
  BYE

It registers observatory.pyagent.ops (replies like an OCS .ops call) and
observatory.pyagent.quit (leaves the realm and exits), subscribes to
observatory..feeds. with wildcard matching, and publishes
[{"f": 2.0, "i": 2, "big": 1e16, "nan": nan, "ninf": -inf}] to
observatory.pyagent.feeds.test.
"""

import os
import sys

from autobahn.twisted.wamp import ApplicationRunner, ApplicationSession
from autobahn.wamp import serializer as ser
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks


def say(*parts):
    # Straight to file descriptor 1: Twisted's logging takes over sys.stdout.
    os.write(1, (' '.join(parts) + '\n').encode())


class Peer(ApplicationSession):

    @inlineCallbacks
    def onJoin(self, details):
        say('OFFERED', ','.join(self._transport.factory.protocols))
        say('PROTOCOL', self._transport.websocket_protocol_in_use)

        try:
            yield self.register(lambda: None, 'elsewhere.pyagent.ops')
            say('NOTAUTH', 'none')
        except ApplicationError as e:
            say('NOTAUTH', e.error)

        def ops(*args, **kwargs):
            say('CALLED', repr(list(args)), repr(kwargs))
            return [0, 'Session active.', {'f': 2.0, 'i': 2, 'args': list(args), 'kwargs': kwargs}]

        yield self.register(ops, 'observatory.pyagent.ops')
        yield self.register(self.quit, 'observatory.pyagent.quit')

        def on_event(*args, details=None):
            # dicts as sorted item lists: Go writes map keys in random order
            shown = [sorted(a.items()) if isinstance(a, dict) else a for a in args]
            say('EVENT', details.topic, repr(shown))

        yield self.subscribe(on_event, 'observatory..feeds.',
                             options=SubscribeOptions(match='wildcard', details_arg='details'))
        say('READY')

        payload = {'f': 2.0, 'i': 2, 'big': 1e16, 'nan': float('nan'), 'ninf': float('-inf')}
        yield self.publish('observatory.pyagent.feeds.test', payload,
                           options=PublishOptions(acknowledge=True))
        say('PUBLISHED')

    def quit(self):
        reactor.callLater(0, self.leave)
        return 'bye'

    def onDisconnect(self):
        say('BYE')
        if reactor.running:
            reactor.stop()


def main():
    url, realm, mode = sys.argv[1:4]
    serializers = None
    if mode == 'json':
        serializers = [ser.JsonSerializer()]
    runner = ApplicationRunner(url, realm, serializers=serializers)
    runner.run(Peer, auto_reconnect=False)


if __name__ == '__main__':
    main()
