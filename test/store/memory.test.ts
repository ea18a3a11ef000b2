import { MemoryEventStore } from '../../src/store/memory';
import { describeEventStoreContract } from './contract';

describeEventStoreContract('memory', async () => ({ store: new MemoryEventStore() }));
