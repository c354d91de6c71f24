/**
 * The platform's TLS session for resumption, kept by the HAL apart from the
 * firmware's `Retained` bytes (hal/types.ts `SecureStreamOptions.resume`).
 * Where it lives follows the declared capabilities (hal/sim/capabilities.ts):
 * with `tls.resumeAfterDeepSleep` it is in RTC memory, so it survives deep
 * sleep and resets and is lost only with the power; without it (Moddable's
 * JavaScript TLS keeps its one session in RAM) every boot starts without one.
 * The firmware offers it when `resume` is not false and the platform declares
 * a resumption kind; with `session-id` only, the client sends no ticket.
 */
import type { PlatformCapabilities } from '../../hal/types';
import { TlsSessionCache } from './secure';

export class TlsSessionStore extends TlsSessionCache {
  constructor(readonly tls: PlatformCapabilities['tls']) {
    super();
  }

  /** The platform offers resumption at all. */
  get offered(): boolean {
    return this.tls.resumption.length > 0;
  }

  /** The client may send and keep RFC 5077 tickets (else it resumes by session id). */
  get tickets(): boolean {
    return this.tls.resumption.includes('ticket');
  }

  /** A new boot: RAM is fresh, so the session is gone unless the platform keeps it in RTC memory. */
  booted(): void {
    if (!this.tls.resumeAfterDeepSleep) this.clear();
  }

  /** The power went: RTC memory is lost too. */
  powerLost(): void {
    this.clear();
  }
}
