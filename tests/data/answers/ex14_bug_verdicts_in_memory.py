# Keeps the ledger on disk but the verdicts in memory: after a restart the store no longer knows
# which requests it has applied, and a retried Apply is applied a second time.
class LedgerStore(Node):
    def on_start(self, ctx):
        self.verdicts = {}

    def on_client_request(self, ctx, request):
        ctx.reply(request, Redirect())

    def on_message(self, ctx, src, msg):
        if msg.rid not in self.verdicts:
            if isinstance(msg, Apply):
                ctx.storage["ledger"] = ctx.storage.get("ledger", ()) + (msg.value,)
            self.verdicts[msg.rid] = isinstance(msg, Apply)
            ctx.storage["rid:" + msg.rid] = self.verdicts[msg.rid]
        ctx.send(src, Outcome(msg.rid, self.verdicts[msg.rid]))
