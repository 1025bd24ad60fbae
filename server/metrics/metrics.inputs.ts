import { IsDate, IsInt, Max, Min } from 'class-validator';
import { ArgsType, Field, ID, Int } from 'type-graphql';

@ArgsType()
export class ContainerMetricsHistoryArgs {
  @Field(() => ID)
  id!: string;

  @Field(() => Date, { description: 'Start of the range (inclusive).' })
  @IsDate()
  from!: Date;

  @Field(() => Date, { description: 'End of the range (exclusive).' })
  @IsDate()
  to!: Date;

  @Field(() => Int, { description: 'Seconds per point, 1 to 86400.' })
  @IsInt()
  @Min(1)
  @Max(86_400)
  step!: number;
}
