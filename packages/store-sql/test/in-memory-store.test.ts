import { InMemoryStore } from "@cardwright/core/testing";
import { describeStoreContract } from "./store-contract.js";

describeStoreContract("InMemoryStore", async ({ clock }) => new InMemoryStore({ clock }));
