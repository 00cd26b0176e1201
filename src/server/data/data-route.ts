import type { FastifyInstance } from 'fastify';
import { InstrumentError } from '../../protocol/instrument.js';
import { bearerToken, type AccessPolicy } from '../http/auth.js';
import { DATA_ROUTE, type DataDevice } from './data-device.js';

/** A whole acquisition file is a read, not a command: the same access as get_data_from_key. */
export const DATA_ROUTE_DESCRIPTION = `GET ${DATA_ROUTE}/<key> (the HDF5 file of a data key; DATA.get_config().uri)`;

const STATUS: Record<string, number> = { API_InvalidArgument: 400, API_DataNotFound: 404, DataServerStopped: 503, DataWriteFailed: 500 };

/** GET `${uri}/<key>`: the .h5 bytes of an acquisition or a registered file, after its write finished. */
export function registerDataRoute(app: FastifyInstance, opts: { device: DataDevice; policy: AccessPolicy }): void {
  const { device, policy } = opts;
  app.get<{ Params: { '*': string } }>(`${DATA_ROUTE}/*`, async (request, reply) => {
    const d = policy.decide(request.socket.remoteAddress, bearerToken(request.headers));
    if (!d.ok) return reply.code(401).send({ reason: d.reason, description: d.description });
    const origin = 'DATA.file';
    try {
      if (!device.isServing) throw new InstrumentError('DataServerStopped', 'the data server is stopped (DATA.stop_tiled_server); DATA.start_tiled_server serves the files again.', origin);
      const file = await device.files.open(request.params['*'], origin);
      return reply
        .type('application/x-hdf5')
        .header('content-length', file.size)
        .header('content-disposition', `attachment; filename="${file.key.split('/').pop()!}"`)
        .send(file.stream);
    } catch (e) {
      if (!(e instanceof InstrumentError)) throw e;
      return reply.code(STATUS[e.reason] ?? 400).send({ reason: e.reason, description: e.description });
    }
  });
}
