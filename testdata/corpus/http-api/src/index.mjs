// GET / answers how many items the table holds; POST / adds one.
import { DynamoDBClient, PutItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";

const db = new DynamoDBClient({});

export const handler = async (event) => {
  const table = process.env.TABLE;
  if (event.requestContext?.http?.method === "POST") {
    await db.send(new PutItemCommand({ TableName: table, Item: { id: { S: crypto.randomUUID() } } }));
    return { statusCode: 201, body: "created" };
  }
  const out = await db.send(new ScanCommand({ TableName: table, Select: "COUNT" }));
  return { statusCode: 200, body: JSON.stringify({ items: out.Count }) };
};
