import { ReplyCode } from './generated/constants.js';

/** A codec failure caused by peer input, carrying the AMQP reply code the connection should be closed with. */
export class AmqpCodecError extends Error {
  /**
   * classId/methodId name the method being decoded when known (0 otherwise), so the server can fill
   * connection.close's class-id and method-id fields.
   */
  constructor(
    readonly replyCode: number,
    message: string,
    readonly classId = 0,
    readonly methodId = 0,
  ) {
    super(message);
    this.name = 'AmqpCodecError';
  }
}

/**
 * The error for a method frame naming a class/method id the spec does not define. RabbitMQ has no reply for
 * this (its reader process exits with {unknown_method_id, Id} and drops the socket); LavinMQ answers
 * NOT_IMPLEMENTED, which is also what the spec's wording of 540 describes, so Warren does the same.
 */
export function unknownMethod(classId: number, methodId: number): AmqpCodecError {
  return new AmqpCodecError(
    ReplyCode.NotImplemented,
    `unknown method: class id ${classId}, method id ${methodId}`,
    classId,
    methodId,
  );
}
