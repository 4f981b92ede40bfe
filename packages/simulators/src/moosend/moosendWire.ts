import type { Response } from "express";
import type { MoosendSimList, MoosendSimSubscriber } from "./moosendState";

/**
 * The docs show dates both bare (`/Date(1465379934028)/`) and with the account's offset
 * (`/Date(1461777152597+0100)/`). In this .NET format the number is always UTC milliseconds and the
 * offset is informational, so a client that adds the offset is an hour off: some fields carry one here.
 */
const ACCOUNT_OFFSET = "+0100";

export function moosendDate(date: Date | null, withOffset = false): string | null {
  return date ? `/Date(${date.getTime()}${withOffset ? ACCOUNT_OFFSET : ""})/` : null;
}

export function toWireSubscriber(member: MoosendSimSubscriber, list: MoosendSimList) {
  return {
    ID: member.ID,
    Name: member.Name,
    Email: member.Email,
    CreatedOn: moosendDate(member.CreatedOn),
    UpdatedOn: moosendDate(member.UpdatedOn, true),
    UnsubscribedOn: moosendDate(member.UnsubscribedOn, true),
    UnsubscribedFromID: member.UnsubscribedFromID,
    SubscribeType: member.SubscribeType,
    SubscribeMethod: member.SubscribeMethod,
    CustomFields: list.CustomFields.filter((field) => member.CustomFields[field.Name] !== undefined).map((field) => ({
      CustomFieldID: field.ID,
      Name: field.Name,
      Value: member.CustomFields[field.Name]!,
    })),
    RemovedOn: moosendDate(member.RemovedOn, true),
    Tags: [...member.Tags],
    Preferences: [...member.Preferences],
  };
}

export function toWireList(list: MoosendSimList) {
  const count = (type: number) => [...list.members.values()].filter((m) => m.SubscribeType === type).length;
  return {
    ID: list.ID,
    Name: list.Name,
    ActiveMemberCount: count(1),
    BouncedMemberCount: count(3),
    RemovedMemberCount: count(4),
    UnsubscribedMemberCount: count(2),
    Status: 0,
    CustomFieldsDefinition: list.CustomFields.map((field) => ({
      ID: field.ID,
      Name: field.Name,
      Context: null,
      IsRequired: false,
      Type: field.Type,
    })),
    CreatedBy: "funnelsync-simulator",
    CreatedOn: moosendDate(list.CreatedOn),
    UpdatedBy: "funnelsync-simulator",
    UpdatedOn: moosendDate(list.UpdatedOn, true),
    ImportOperation: null,
  };
}

/** Moosend's envelope; every answer, success or not, has this shape. */
export function sendEnvelope(res: Response, httpStatus: number, code: number, error: string | null, context: unknown): void {
  res.status(httpStatus).json({ Code: code, Error: error, Context: context });
}
