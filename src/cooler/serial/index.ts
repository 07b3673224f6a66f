export { SerialCooler, CoolerMismatchError, createSerialCooler, type SerialCoolerOptions } from './driver.ts';
export { SerialLink, DeviceErrorReply, LinkClosedError, RequestTimeoutError } from './link.ts';
export { CoolerLinkMetrics } from './metrics.ts';
