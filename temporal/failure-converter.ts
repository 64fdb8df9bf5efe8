// The failure converter of an encrypting data converter (dataConverter() names this file when codec
// keys are configured): failure messages and stack traces move into an encoded attribute, a payload
// the codec encrypts like any other. Loaded by path because it also runs inside the workflow bundle.
import { DefaultFailureConverter } from '@temporalio/common';

/** @public Temporal loads this module by path and reads `failureConverter`: knip cannot follow that. */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
