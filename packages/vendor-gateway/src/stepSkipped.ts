/** What an effect returns when, at the last moment, it decided not to act: the step is recorded as skipped. */
export class StepSkipped {
  constructor(readonly reason: string) {}
}
