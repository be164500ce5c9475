// The seed documentation's example webhook handler, as published, measured as a peer of `whatsable listen`.
// Only the last lines differ: it listens on a free loopback port (PORT, default 0) and says which,
// so the benchmark can find it. Run by benchmarks/peer_express.py with NODE_PATH at a cached Express.
const express = require('express');
const app = express();

app.post('/webhook', express.json(), (req, res) => {
  const { event, data } = req.body;

  switch (event) {
    case 'message_status':
      handleMessageStatus(data);
      break;
    case 'incoming_message':
      handleIncomingMessage(data);
      break;
    default:
      console.log('Unknown event type:', event);
  }

  res.status(200).send('OK');
});

function handleMessageStatus(data) {
  console.log('Message status update:', data);
  // Process message status
}

function handleIncomingMessage(data) {
  console.log('Incoming message:', data);
  // Process incoming message
}

const server = app.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log('Webhook server running on port ' + server.address().port);
});
