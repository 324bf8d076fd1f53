// Opens a session as a test process would and keeps a command running in
// it; prints {pid, stateDir} once it runs. The e2e test SIGKILLs this
// process and checks that the session died with it.
import { openSession } from '../../src/index.js';

const [uid, gid] = [process.env.HOLDER_UID, process.env.HOLDER_GID];
const s = await openSession({}, uid === undefined ? {} : { uid: Number(uid), gid: Number(gid) });
void s.run(['sh', '-c', 'echo started > "$1"; exec sleep 1000', 'sh', `${s.stateDir}/started`]).catch(() => {});
process.stdout.write(`${JSON.stringify({ pid: s.pid, stateDir: s.stateDir })}\n`);
setInterval(() => {}, 1 << 30);
