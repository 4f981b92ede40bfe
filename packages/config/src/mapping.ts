import { z } from "zod";

const kommoFieldId = z.number().int().positive();
const DEFAULT_EMAIL_PREFERENCE = ["WORK", "PRIV", "OTHER"] as const;
const nonEmpty = z.string().trim().min(1);

const loopsEventSchema = z
  .object({
    event: nonEmpty.optional(),
    transactionalId: nonEmpty.optional(),
    /** Loops `userGroup` written on the contact when it reaches this stage. */
    userGroup: nonEmpty.optional(),
  })
  .strict();

const stageSchema = z
  .object({
    statusId: kommoFieldId,
    name: nonEmpty.optional(),
    moosend: z
      .object({
        listId: z.guid(),
        /** Take the person off this list (Moosend's remove: no unsubscribe, consent untouched) once their lead leaves the stage. */
        removeOnExit: z.boolean().default(false),
      })
      .strict()
      .optional(),
    loops: loopsEventSchema.optional(),
  })
  .strict();

const engagementSchema = z
  .object({
    /** Which engagements become a note on the contact and its open leads: one per message and kind. */
    notes: z.array(z.enum(["opened", "clicked", "delivered"])).default([]),
    /** Contact date field set to the latest open or click. */
    lastEngagementFieldId: kommoFieldId.optional(),
    /** Numeric lead field: opens × `opened` + clicks × `clicked`, over everything we recorded. */
    score: z.object({ fieldId: kommoFieldId, opened: z.number().min(0).default(1), clicked: z.number().min(0).default(5) }).strict().optional(),
    /** A follow-up task for the lead's responsible user on a click; `{subject}` is replaced by the message's subject. */
    taskOnClick: z.object({ text: nonEmpty, dueHours: z.number().positive().default(24) }).strict().optional(),
    /** The most of Kommo's 7 calls a second that engagement may take; live sync keeps the rest. */
    kommoCallsPerSecond: z.number().int().min(1).max(6).default(3),
    /** How long engagements are collected before one batched write to Kommo. */
    coalesceSeconds: z.number().min(0.1).max(300).default(10),
  })
  .strict();

export const mappingSchema = z
  .object({
    kommo: z
      .object({
        optInFieldId: kommoFieldId.optional(),
        tags: z
          .object({ unsubscribed: nonEmpty.optional(), hardBounce: nonEmpty.optional(), spam: nonEmpty.optional() })
          .strict()
          .default({}),
        taskOnHardBounce: z.boolean().default(true),
        /** Which of a contact's EMAIL values we sync: the first value with the first code listed here that has one, else the first value. */
        emailPreference: z
          .array(z.string().trim().toUpperCase().pipe(z.string().regex(/^[A-Z_]+$/, "must be a Kommo enum code such as WORK")))
          .min(1)
          .refine((codes) => new Set(codes).size === codes.length, { message: "lists a code twice" })
          .default([...DEFAULT_EMAIL_PREFERENCE]),
      })
      .strict()
      .default({ tags: {}, taskOnHardBounce: true, emailPreference: [...DEFAULT_EMAIL_PREFERENCE] }),
    fields: z
      .array(
        z
          .object({ kommoFieldId, moosend: nonEmpty.optional(), loops: nonEmpty.optional() })
          .strict()
          .refine((f) => f.moosend || f.loops, { message: "names neither a moosend field nor a loops property" }),
      )
      .default([]),
    loops: z
      .object({
        onLeadAdded: loopsEventSchema.optional(),
        /** Loops `source` written on contacts we create. */
        source: nonEmpty.default("kommo"),
        userGroup: nonEmpty.optional(),
        /**
         * `kommoContact`: Loops `userId` is the Kommo contact id. `none`: contacts are matched by e-mail
         * only, since Loops overwrites the `userId` of an e-mail match and the team's own product may set it.
         */
        userId: z.enum(["kommoContact", "none"]).default("kommoContact"),
      })
      .strict()
      .default({ source: "kommo", userId: "kommoContact" }),
    engagement: engagementSchema.optional(),
    pipelines: z
      .array(z.object({ pipelineId: kommoFieldId, stages: z.array(stageSchema).min(1) }).strict())
      .min(1),
  })
  .strict()
  .superRefine((mapping, ctx) => {
    const seenPipelines = new Set<number>();
    mapping.pipelines.forEach((pipeline, i) => {
      if (seenPipelines.has(pipeline.pipelineId)) {
        ctx.addIssue({ code: "custom", path: ["pipelines", i, "pipelineId"], message: `pipeline ${pipeline.pipelineId} is listed twice` });
      }
      seenPipelines.add(pipeline.pipelineId);
      const seenStatuses = new Set<number>();
      pipeline.stages.forEach((stage, j) => {
        if (seenStatuses.has(stage.statusId)) {
          ctx.addIssue({ code: "custom", path: ["pipelines", i, "stages", j, "statusId"], message: `status ${stage.statusId} is listed twice` });
        }
        seenStatuses.add(stage.statusId);
      });
    });
    // A list's people leave it with their lead or stay for good: stages sharing a list must agree.
    const removedOnExit = new Map<string, boolean>();
    mapping.pipelines.forEach((pipeline, i) => {
      pipeline.stages.forEach((stage, j) => {
        if (!stage.moosend) return;
        const listId = stage.moosend.listId.toLowerCase();
        const earlier = removedOnExit.get(listId);
        if (earlier !== undefined && earlier !== stage.moosend.removeOnExit) {
          ctx.addIssue({
            code: "custom",
            path: ["pipelines", i, "stages", j, "moosend", "removeOnExit"],
            message: `list ${stage.moosend.listId} is named by several stages; removeOnExit must be the same on each`,
          });
        }
        removedOnExit.set(listId, stage.moosend.removeOnExit);
      });
    });
    const seenFields = new Set<number>();
    mapping.fields.forEach((field, i) => {
      if (seenFields.has(field.kommoFieldId)) {
        ctx.addIssue({ code: "custom", path: ["fields", i, "kommoFieldId"], message: `field ${field.kommoFieldId} is listed twice` });
      }
      seenFields.add(field.kommoFieldId);
    });
  });

export type MappingFile = z.infer<typeof mappingSchema>;
export type StageMapping = MappingFile["pipelines"][number]["stages"][number];
export type FieldMapping = MappingFile["fields"][number];
export type LoopsEventMapping = z.infer<typeof loopsEventSchema>;
export type EngagementMapping = z.infer<typeof engagementSchema>;

/** The mapping file, parsed, with the look-ups the worker needs. */
export interface Mapping extends MappingFile {
  /** A stage is the pair (pipeline, status): Kommo's 142 and 143 exist in every pipeline. */
  stage(pipelineId: number, statusId: number): StageMapping | undefined;
  /** Every Moosend list any stage names, for polling unsubscribes and bounces. */
  moosendListIds(): string[];
  /** Lists whose people leave them when their lead leaves the stage (`removeOnExit`). */
  moosendListsLeftOnExit(): string[];
  /** Every Loops transactional e-mail any stage sends. */
  loopsTransactionalIds(): string[];
  usesMoosend(): boolean;
  usesLoops(): boolean;
}

export function toMapping(file: MappingFile): Mapping {
  const stages = new Map<string, StageMapping>();
  for (const pipeline of file.pipelines) {
    for (const stage of pipeline.stages) stages.set(`${pipeline.pipelineId}/${stage.statusId}`, stage);
  }
  const listIds = [...new Set([...stages.values()].flatMap((s) => (s.moosend ? [s.moosend.listId] : [])))];
  const leftOnExit = [...new Set([...stages.values()].flatMap((s) => (s.moosend?.removeOnExit ? [s.moosend.listId] : [])))];
  const transactionalIds = [...new Set([...stages.values()].flatMap((s) => (s.loops?.transactionalId ? [s.loops.transactionalId] : [])))];
  const loopsUsed = Boolean(file.loops.onLeadAdded) || [...stages.values()].some((s) => s.loops);
  return {
    ...file,
    stage: (pipelineId, statusId) => stages.get(`${pipelineId}/${statusId}`),
    moosendListIds: () => listIds,
    moosendListsLeftOnExit: () => leftOnExit,
    loopsTransactionalIds: () => transactionalIds,
    usesMoosend: () => listIds.length > 0,
    usesLoops: () => loopsUsed,
  };
}
