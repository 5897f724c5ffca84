// Starts dynalite (an in-memory DynamoDB-compatible server, from npm) on 127.0.0.1 at a port the
// OS picks and prints "READY http://127.0.0.1:<port>" on stdout. It stops by itself when its
// standard input closes (the test that started it is gone) or after MAX_SECONDS.
//   node dynalite_server.js <path to node_modules/dynalite> [MAX_SECONDS]
'use strict';
const dynalite = require(process.argv[2]);
const maxSeconds = Number(process.argv[3] || 600);
const server = dynalite({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
server.listen(0, '127.0.0.1', () => {
  console.log(`READY http://127.0.0.1:${server.address().port}`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(0), maxSeconds * 1000).unref();
